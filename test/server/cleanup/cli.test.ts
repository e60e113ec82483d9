import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runCleanupCli, type LoadedUploads } from "../../../server/cleanup/cli";
import { connectDatabase } from "../../../server/db/database";
import { asyncTempFile } from "../../../server/db/schema";
import { s3Storage } from "../../../server/storage/s3";
import { freePort } from "../../helpers/emulators";
import {
  bytes, createCleanupContext, exists, HOUR, onPostgres, rowCount, seed, startBackend, uploadsOn, type Backend, type CleanupContext,
} from "./helpers";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** Collects what the CLI writes. */
function capture(isTTY = false) {
  const chunks: string[] = [];
  return { isTTY, chunks, write: (text: string) => chunks.push(text), get text() { return chunks.join(""); } };
}

async function runInProcess(argv: string[], loaded: () => Promise<LoadedUploads>, isTTY = false) {
  (globalThis as { provideCleanupUploads?: () => Promise<LoadedUploads> }).provideCleanupUploads = loaded;
  const stdout = capture(isTTY);
  const stderr = capture(isTTY);
  const code = await runCleanupCli(["--config", fixture("provided.config.ts"), ...argv], { stdout, stderr, env: {}, cwd: REPO });
  return { code, stdout, stderr };
}

describe("cleanup-temp-files CLI (in process)", () => {
  let backend: Backend;
  let context: CleanupContext;
  const provide = () => Promise.resolve({ uploads: context.uploads, close: async () => {} });
  beforeAll(async () => {
    backend = await startBackend("filesystem");
    context = await createCleanupContext(backend);
  });
  afterAll(async () => {
    await context?.close();
    await backend?.close();
  });
  beforeEach(async () => {
    await context.db.delete(asyncTempFile);
  });
  const stale = (n: number) => seed(context, Array.from({ length: n }, () => ({ ageMs: 25 * HOUR, bytes: bytes(1024) })));

  it("prints a line per batch and a summary when not on a terminal, and exits 0", async () => {
    await stale(5);
    const { code, stdout, stderr } = await runInProcess(["--batch-size", "2"], provide);
    expect(code).toBe(0);
    expect(stderr.text).toBe("");
    expect(stdout.text).toMatch(/^batch 1 · 2\/5 rows · 2 removed · 0 failed · 0 skipped · 2 KiB · \d+\.\ds\n/);
    expect(stdout.text).toContain("batch 3 · 5/5 rows");
    expect(stdout.text).toMatch(/removed\s+5 {2}\(5 objects deleted, 0 already gone\)/);
    expect(stdout.text).toMatch(/bytes freed\s+5 KiB/);
    expect(await rowCount(context.db)).toBe(0);
  });

  it("redraws one progress line on a terminal", async () => {
    await stale(4);
    const { code, stdout } = await runInProcess(["--batch-size", "2"], provide, true);
    expect(code).toBe(0);
    const progress = stdout.chunks.filter((chunk) => chunk.includes("batch "));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const chunk of progress) expect(chunk).toMatch(/^\r\x1b\[2Kbatch \d+ .*[^\n]$/);
  });

  it("--json prints one summary object and nothing else; --dry-run counts what the real run removes", async () => {
    await stale(3);
    const dry = await runInProcess(["--json", "--dry-run"], provide);
    expect(dry.code).toBe(0);
    expect(dry.stdout.chunks).toHaveLength(1);
    const drySummary = JSON.parse(dry.stdout.text);
    expect(drySummary).toMatchObject({ dryRun: true, scanned: 3, removed: 3, bytesFreed: 3072, failed: 0 });
    expect(await rowCount(context.db)).toBe(3);
    const real = JSON.parse((await runInProcess(["--json"], provide)).stdout.text);
    expect({ ...real, dryRun: true, durationMs: 0, cutoff: "" }).toEqual({ ...drySummary, durationMs: 0, cutoff: "" });
  });

  it("--quiet prints nothing when all went well", async () => {
    await stale(2);
    const { code, stdout, stderr } = await runInProcess(["--quiet"], provide);
    expect(code).toBe(0);
    expect(stdout.text + stderr.text).toBe("");
    expect(await rowCount(context.db)).toBe(0);
  });

  it("exits 1 and names the failures when storage fails; --quiet then prints the summary on stderr", async () => {
    const broken = await startBackend("filesystem");
    try {
      const brokenContext: CleanupContext = { ...context, backend: broken, uploads: uploadsOn(context.db, broken.storage) };
      await seed(brokenContext, [{ ageMs: 25 * HOUR, bytes: bytes(3) }]);
      // The disk answers stat (so the start-up probe passes) but every delete fails.
      Object.assign(broken.storage, { delete: () => Promise.reject(new Error("[filesystem] delete failed: EIO: i/o error")) });
      const loaded = () => Promise.resolve({ uploads: brokenContext.uploads, close: async () => {} });
      const { code, stdout, stderr } = await runInProcess(["--quiet"], loaded);
      expect(code).toBe(1);
      expect(stdout.text).toBe("");
      expect(stderr.text).toMatch(/failed\s+1 {2}\(left for the next run\)\n\s+- async-temp\/.*: \[filesystem\] delete failed: EIO/);
      expect(await rowCount(context.db)).toBe(1);
    } finally {
      await broken.close();
    }
  });

  const badUsage: Array<[string, string[], RegExp]> = [
    ["an unknown option", ["--bogus"], /unknown option --bogus/],
    ["a malformed duration", ["--older-than", "soon"], /--older-than must be a positive duration/],
    ["a duration without a unit", ["--older-than", "24"], /--older-than must be a positive duration/],
    ["a negative duration", ["--older-than=-5m"], /--older-than must be a positive duration/],
    ["a zero max duration", ["--max-duration", "0s"], /--max-duration must be a positive duration/],
    ["a zero batch size", ["--batch-size", "0"], /--batch-size must be a whole number/],
    ["a negative batch size", ["--batch-size=-3"], /--batch-size must be a whole number/],
    ["a missing option value", ["--batch-size"], /--batch-size/],
    ["a positional argument", ["now"], /unexpected argument now/],
    ["a threshold below the upload URL lifetime", ["--older-than", "5m"], /shorter than the upload URL lifetime/],
    ["an unknown field", ["--field", "nope"], /field "nope" is not registered/],
  ];
  it.each(badUsage)("refuses %s: one line on stderr, exit 2, nothing removed", async (_name, argv, message) => {
    await stale(1);
    const { code, stdout, stderr } = await runInProcess(argv, provide);
    expect(code).toBe(2);
    expect(stdout.text).toBe("");
    expect(stderr.text).toMatch(message);
    expect(stderr.text.trimEnd().split("\n")).toHaveLength(1);
    expect(await rowCount(context.db)).toBe(1);
  });

  it("refuses a configuration module that is missing or exports no loader (exit 2)", async () => {
    for (const config of ["/nonexistent/uploads-config.ts", fixture("not-a-loader.config.ts")]) {
      const stdout = capture();
      const stderr = capture();
      expect(await runCleanupCli(["--config", config], { stdout, stderr, env: {}, cwd: REPO })).toBe(2);
      expect(stderr.text.trimEnd().split("\n")).toHaveLength(1);
    }
  });

  it("stops with one line and exit 1 when a storage backend is unreachable, removing nothing", async () => {
    await stale(2);
    const port = await freePort();
    const client = new S3Client({
      region: "us-east-1", endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, maxAttempts: 1,
      credentials: { accessKeyId: "x", secretAccessKey: "y" },
    });
    const uploads = uploadsOn(context.db, s3Storage({ bucket: "nowhere", client }));
    const { code, stdout, stderr } = await runInProcess([], () => Promise.resolve({ uploads, close: async () => client.destroy() }));
    expect(code).toBe(1);
    expect(stdout.text).toBe("");
    expect(stderr.text).toMatch(/^cleanup-temp-files: storage "s3" is not usable: \[s3\] stat failed .*ECONNREFUSED/);
    expect(stderr.text.trimEnd().split("\n")).toHaveLength(1);
    expect(await rowCount(context.db)).toBe(2);
  });
});

describe("async-uploads bin", () => {
  const bin = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [join(REPO, "bin/async-uploads.js"), ...args], { cwd: REPO, env: { ...process.env, ...env }, timeout: 60_000 },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
    });

  it("prints usage for --help (exit 0) and refuses a bad option or command (exit 2)", async () => {
    const help = await bin(["cleanup-temp-files", "--help"]);
    expect(help).toMatchObject({ code: 0, stderr: "" });
    expect(help.stdout).toContain("Usage: async-uploads cleanup-temp-files [options]");
    const bad = await bin(["cleanup-temp-files", "--older-than", "a while"]);
    expect(bad).toMatchObject({ code: 2, stdout: "" });
    expect(bad.stderr).toBe('cleanup-temp-files: --older-than must be a positive duration such as 90m, 24h or 7d, not "a while" (see --help)\n');
    const unknown = await bin(["tidy-up"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^async-uploads: unknown command "tidy-up"\n/);
  });

  it("exits 1 with one line when the database cannot be reached", async () => {
    const root = await mkdtemp(join(tmpdir(), "cleanup-cli-"));
    const port = await freePort();
    const result = await bin(["cleanup-temp-files", "--config", fixture("env.config.ts")], {
      CLEANUP_TEST_DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/none`, CLEANUP_TEST_ROOT: root,
    });
    await rm(root, { recursive: true, force: true });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^cleanup-temp-files: cannot load .*env\.config\.ts: .*ECONNREFUSED.*\n$/);
  });

  it(`removes stale rows through the app's configuration module (${onPostgres ? "PostgreSQL" : "PGlite on disk"})`, async () => {
    const backend = await startBackend("filesystem");
    const pgliteDir = onPostgres ? undefined : await mkdtemp(join(tmpdir(), "cleanup-pglite-"));
    try {
      let context: CleanupContext;
      if (pgliteDir) {
        // PGlite is one process's database: seed, close, let the CLI open it, then look.
        const connection = await connectDatabase({ dataDir: pgliteDir });
        context = { db: connection.db, uploads: uploadsOn(connection.db, backend.storage), backend, close: () => connection.close() };
      } else {
        context = await createCleanupContext(backend);
      }
      const rows = await seed(context, [{ ageMs: 25 * HOUR, bytes: bytes(10) }, { ageMs: 25 * HOUR, bytes: bytes(10) }, { ageMs: HOUR, bytes: bytes(10) }]);
      if (pgliteDir) await context.close();
      const env: Record<string, string> = { CLEANUP_TEST_ROOT: backend.root!, ASYNC_UPLOADS_CONFIG: fixture("env.config.ts") };
      if (pgliteDir) env.CLEANUP_TEST_PGLITE_DIR = pgliteDir;
      else Object.assign(env, { CLEANUP_TEST_DATABASE_URL: context.url!, CLEANUP_TEST_SCHEMA: context.schema! });

      const result = await bin(["cleanup-temp-files", "--json"], env);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ removed: 2, objectsDeleted: 2, bytesFreed: 20, failed: 0 });
      expect(await exists(backend.storage, rows[0]!.key)).toBe(false);
      expect(await exists(backend.storage, rows[2]!.key)).toBe(true);
      if (pgliteDir) {
        const reopened = await connectDatabase({ dataDir: pgliteDir });
        expect(await rowCount(reopened.db)).toBe(1);
        await reopened.close();
      } else {
        expect(await rowCount(context.db)).toBe(1);
        await context.close();
      }
    } finally {
      await backend.close();
      if (pgliteDir) await rm(pgliteDir, { recursive: true, force: true });
    }
  });
});
