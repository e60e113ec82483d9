// Consumer test (f): the `async-uploads` command, installed from the packed tarball, run from the
// consumer's node_modules/.bin with a plain-JavaScript configuration module: it removes an upload that
// was never saved, and without a configuration it refuses in one line and creates nothing.
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CONSUMER_FIELD,
  SERVER_DEPENDENCIES,
  createConsumerProject,
  startConsumerServer,
  type ConsumerProject,
  type ConsumerServer,
} from "./harness";

// What an app writes for the command: the same createAsyncUploads() setup as its server (database,
// storage, the field), in plain JS, no TS loader.
const CONFIG = `import { connectDatabase, createAsyncUploads, KiB } from "async-uploads/server";
import { filesystemStorage } from "async-uploads/filesystem";

export default async function loadUploads() {
  const { db, close } = await connectDatabase({ url: process.env.DATABASE_URL, schema: process.env.DATABASE_SCHEMA });
  const uploads = createAsyncUploads({
    db,
    secret: process.env.ASYNC_UPLOADS_SECRET,
    storage: filesystemStorage({ root: process.env.STORAGE_ROOT }),
    getPrincipal: () => null,
  });
  uploads.registry.register(${JSON.stringify(CONSUMER_FIELD)}, { maxSize: 256 * KiB, uploadTo: ({ fileId, filename }) => \`documents/\${fileId}/\${filename}\` });
  return { uploads, close };
}
`;

describe("the async-uploads command in a consumer project", { timeout: 60_000 }, () => {
  let project: ConsumerProject;
  let server: ConsumerServer;

  beforeAll(async () => {
    project = await createConsumerProject("cli", {
      dependencies: SERVER_DEPENDENCIES,
      files: { "uploads.config.js": CONFIG, "no-loader.config.js": "export const uploads = 1;\n" },
    });
    server = await startConsumerServer(project);
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    await project?.remove();
  });

  const command = (args: string[], env: Record<string, string | undefined> = {}) =>
    project.tryRun(join(project.dir, "node_modules/.bin/async-uploads"), ["cleanup-temp-files", ...args], { env: { ASYNC_UPLOADS_CONFIG: undefined, ...env } });

  it("removes an upload that was never saved, with its stored bytes, using a plain .js config", async () => {
    const bytes = Buffer.from("never saved\n");
    const ticket = await fetch(`${server.url}/async-uploads/upload-url`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ fieldId: CONSUMER_FIELD, filename: "abandoned.txt", contentType: "text/plain", size: bytes.byteLength }),
    });
    expect(ticket.status, await ticket.clone().text()).toBe(201);
    const { key, upload } = (await ticket.json()) as { key: string; upload: { url: string; headers: Record<string, string> } };
    const put = await fetch(new URL(upload.url, server.url), { method: "PUT", headers: upload.headers, body: bytes });
    expect(put.status).toBe(201);
    expect(Buffer.compare(await readFile(join(server.storageRoot, key)), bytes)).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    const result = await command(["--config", "uploads.config.js", "--older-than", "1s", "--force", "--json"], {
      DATABASE_URL: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
      DATABASE_SCHEMA: server.schema,
      STORAGE_ROOT: server.storageRoot,
      ASYNC_UPLOADS_SECRET: randomBytes(32).toString("hex"),
    });
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { removed: number; objectsDeleted: number; bytesFreed: number; failed: number };
    expect(summary).toMatchObject({ removed: 1, objectsDeleted: 1, bytesFreed: bytes.byteLength, failed: 0 });
    await expect(readFile(join(server.storageRoot, key))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("without a configuration: exit 2, one line naming --config and ASYNC_UPLOADS_CONFIG, nothing created", async () => {
    const before = await readdir(project.dir);
    const result = await command([]);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split("\n");
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toContain("--config");
    expect(lines[0]).toContain("ASYNC_UPLOADS_CONFIG");
    expect(result.stdout).toBe("");
    expect(await readdir(project.dir)).toEqual(before);
  });

  it("with a module that exports no loader: exit 2, one line", async () => {
    const result = await command(["--config", "no-loader.config.js"]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n"), result.stderr).toHaveLength(1);
    expect(result.stderr).toContain("loadUploads");
  });
});
