// Consumer test (a): a plain Node.js ESM Hono server, installed from the packed tarball and run with no
// TS loader, does upload-url → upload → commit on real PostgreSQL. Also what such a server installs
// (sizes, no SDK it does not use) and the one-line error for a storage driver whose SDK is missing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  CONSUMER_ENDPOINT,
  CONSUMER_FIELD,
  SERVER_DEPENDENCIES,
  createConsumerProject,
  expectCommitted,
  installSize,
  startConsumerServer,
  type ConsumerDocument,
  type ConsumerProject,
  type ConsumerServer,
} from "./harness";

const AWS_SDK = ["@aws-sdk/client-s3", "@aws-sdk/s3-request-presigner", "@aws-sdk/s3-presigned-post"];
/** What a filesystem-only server must not install: the other backends' SDKs, PGlite, a TS loader. */
const NOT_NEEDED = [...AWS_SDK, "@azure/storage-blob", "@electric-sql/pglite", "tsx"];
/** The aim: less than half of the 140 MB that any server installed before. */
const INSTALL_SIZE_LIMIT = 70_000_000;

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

describe("a plain Node.js ESM server (filesystem storage)", { timeout: 60_000 }, () => {
  let project: ConsumerProject;
  let server: ConsumerServer;

  beforeAll(async () => {
    project = await createConsumerProject("server", { dependencies: SERVER_DEPENDENCIES });
    server = await startConsumerServer(project);
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    await project?.remove();
  });

  it("uploads through the returned URL and commits on save", async () => {
    const bytes = Buffer.from("Notes from a consumer of the packed package.\n".repeat(50));
    const ticket = await post("/async-uploads/upload-url", {
      fieldId: CONSUMER_FIELD,
      filename: "notes.txt",
      contentType: "text/plain",
      size: bytes.byteLength,
    });
    expect(ticket.status, await ticket.clone().text()).toBe(201);
    const { key, upload } = (await ticket.json()) as { key: string; upload: { method: string; url: string; headers: Record<string, string> } };
    expect(upload.method).toBe("PUT");
    expect(upload.url.startsWith(`${CONSUMER_ENDPOINT}/`) || upload.url.startsWith(`${server.url}${CONSUMER_ENDPOINT}/`), upload.url).toBe(true);

    const put = await fetch(new URL(upload.url, server.url), { method: "PUT", headers: upload.headers, body: bytes });
    expect(put.status, await put.text()).toBe(201);

    const save = await fetch(`${server.url}/save`, {
      method: "POST",
      headers: { accept: "application/json" },
      body: new URLSearchParams({ file: key }),
    });
    const saved = (await save.json()) as ConsumerDocument;
    expect(save.status, `${JSON.stringify(saved)}\n${server.output()}`).toBe(201);
    expect(saved).toMatchObject({ filename: "notes.txt", size: bytes.byteLength, contentType: "text/plain" });
    await expectCommitted(server, saved, bytes, key);
  });

  it("refuses a key it did not issue with the contract's error, and stores nothing", async () => {
    const before = await server.documents();
    const save = await fetch(`${server.url}/save`, {
      method: "POST",
      headers: { accept: "application/json" },
      body: new URLSearchParams({ file: "async-temp/2026/01/01/00000000-0000-4000-8000-000000000000/forged.txt" }),
    });
    expect(save.status).toBe(422);
    expect(await save.json()).toMatchObject({ error: { code: "invalid_upload" } });
    expect(await server.documents()).toEqual(before);
  });

  it("installs no cloud SDK, no PGlite and no TS loader, and stays under 70 MB", async () => {
    for (const name of NOT_NEEDED) expect(existsSync(join(project.dir, "node_modules", name)), name).toBe(false);
    const size = await installSize(project);
    console.log(`[consumer tests] install size, filesystem-only server: ${megabytes(size)} (${size} bytes)`);
    expect(size).toBeLessThan(INSTALL_SIZE_LIMIT);
  });

  it("names the missing package in one line when async-uploads/s3 is imported without the AWS SDK", async () => {
    const result = await project.tryRun("node", ["--input-type=module", "-e", 'await import("async-uploads/s3")']);
    expect(result.code).not.toBe(0);
    const lines = result.stderr.split("\n");
    const message = lines.filter((line) => line.includes("npm install @aws-sdk/client-s3"));
    expect(message, result.stderr).toHaveLength(1);
    expect(message[0]).toContain("MissingPeerDependencyError");
    // No stack frames at all (none from node:internal's loader either). Node still heads any uncaught
    // error without frames with its own location (node:internal/modules/run_main), which no module can change.
    expect(lines.filter((line) => /^\s+at /.test(line)), result.stderr).toEqual([]);
  });

  async function post(path: string, body: unknown): Promise<Response> {
    return fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  }
});

describe("an S3 server", () => {
  let project: ConsumerProject;

  beforeAll(async () => {
    project = await createConsumerProject("s3-server", { dependencies: [...SERVER_DEPENDENCIES, ...AWS_SDK] });
  }, 240_000);

  afterAll(async () => {
    await project?.remove();
  });

  it("loads async-uploads/s3, installs neither Azure nor PGlite, and stays under 70 MB", async () => {
    const { stdout } = await project.run("node", ["--input-type=module", "-e", 'const { s3Storage } = await import("async-uploads/s3"); console.log(typeof s3Storage)']);
    expect(stdout.trim()).toBe("function");
    for (const name of ["@azure/storage-blob", "@electric-sql/pglite", "tsx"]) expect(existsSync(join(project.dir, "node_modules", name)), name).toBe(false);
    const size = await installSize(project);
    console.log(`[consumer tests] install size, S3 server: ${megabytes(size)} (${size} bytes)`);
    expect(size).toBeLessThan(INSTALL_SIZE_LIMIT);
  });
});
