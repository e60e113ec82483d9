import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import type { LoadedUploads } from "../../../server/cli/command";
import { runCleanupCli } from "../../../server/cleanup/cli";
import { connectDatabase } from "../../../server/db/database";
import { s3Storage } from "../../../server/storage/s3";
import { freePort } from "../../helpers/emulators";
import {
  bytes, createCleanupContext, exists, HOUR, onPostgres, rowCount, seed, startBackend, uploadsOn, useCleanupContext, type CleanupContext,
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
  const context = useCleanupContext("filesystem");
  const provide = () => Promise.resolve({ uploads: context.uploads, close: async () => {} });
  const stale = (n: number) => seed(context, Array.from({ length: n }, () => ({ ageMs: 25 * HOUR, bytes: bytes(1024) })));

  it("prints a line per batch and a summary when not on a terminal, and exits 0", async () => {
    await stale(5);
    const { code, stdout, stderr } = await runInProcess(["--batch-size", "2"], provide);
    expect(code).toBe(0);
    expect(stderr.text).toBe("");
    expect(stdout.text).toMatch(/^batch 1 · 2\/5 rows · 2 removed · 0 failed · 0 skipped · 2 KiB · \d+\.\ds\n/);
    expect(stdout.text).toContain("batch 3 · 5/5 rows");
    expect(stdout.text).toMatch(/removed\s+5 {2}\(rows with their objects; an object already gone counts\)/);
    expect(stdout.text).toMatch(/bytes freed\s+5 KiB {2}\(declared sizes\)/);
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
      const [row] = await seed(brokenContext, [{ ageMs: 25 * HOUR, bytes: null }]);
      // A real failure of the disk, whichever call the driver deletes with (delete, deleteMany): the
      // key names a directory, which unlink refuses (EISDIR; tests run as root, so permissions cannot).
      await broken.put(`${row!.key}/inside.bin`, bytes(3));
      const loaded = () => Promise.resolve({ uploads: brokenContext.uploads, close: async () => {} });
      const { code, stdout, stderr } = await runInProcess(["--quiet"], loaded);
      expect(code).toBe(1);
      expect(stdout.text).toBe("");
      expect(stderr.text).toMatch(/failed\s+1 {2}\(left for the next run\)\n\s+- async-temp\/.*: \[filesystem\] delete(Many)? failed .*EISDIR/);
      expect(await rowCount(context.db)).toBe(1);
      expect(await exists(broken.storage, `${row!.key}/inside.bin`)).toBe(true);
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

  it("accepts a loader exported by name instead of as the default export", async () => {
    await stale(1);
    (globalThis as { provideCleanupUploads?: () => Promise<LoadedUploads> }).provideCleanupUploads = provide;
    const stdout = capture();
    const stderr = capture();
    const code = await runCleanupCli(["--config", fixture("named-export.config.js"), "--json"], { stdout, stderr, env: {}, cwd: REPO });
    expect(stderr.text).toBe("");
    expect(code).toBe(0);
    expect(JSON.parse(stdout.text)).toMatchObject({ removed: 1 });
  });

  const badModules: Array<[string, string, RegExp]> = [
    ["does not exist", "/nonexistent/uploads-config.js", /configuration module \/nonexistent\/uploads-config\.js does not exist/],
    ["exports no loader", fixture("not-a-loader.config.ts"), /not-a-loader\.config\.ts must export an async function loadUploads\(\)/],
    ["resolves to the wrong shape", fixture("wrong-shape.config.ts"), /wrong-shape\.config\.ts: loadUploads\(\) must resolve to \{ uploads, close \}/],
    ["throws while it is imported", fixture("throws-on-import.config.ts"), /cannot import .*throws-on-import\.config\.ts: S3_BUCKET is not set/],
  ];
  it.each(badModules)("refuses a configuration module that %s: exit 2, one line, nothing removed", async (_name, config, message) => {
    await stale(1);
    const stdout = capture();
    const stderr = capture();
    expect(await runCleanupCli(["--config", config], { stdout, stderr, env: {}, cwd: REPO })).toBe(2);
    expect(stdout.text).toBe("");
    expect(stderr.text).toMatch(message);
    expect(stderr.text.trimEnd().split("\n")).toHaveLength(1);
    expect(await rowCount(context.db)).toBe(1);
  });

  it("closes what a loader of the wrong shape opened", async () => {
    const state = globalThis as { wrongShapeClosed?: boolean };
    delete state.wrongShapeClosed;
    const io = { stdout: capture(), stderr: capture(), env: {}, cwd: REPO };
    expect(await runCleanupCli(["--config", fixture("wrong-shape.config.ts")], io)).toBe(2);
    expect(state.wrongShapeClosed).toBe(true);
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

// The command as a process: bin/async-uploads.ts run by tsx, the same code the package compiles to
// dist/bin/async-uploads.js. Not the build itself: `npm run build` costs seconds and empties dist/,
// which other test files running in parallel may be reading; the compiled command is run from an
// installed tarball by the consumer tests.
// Each case starts Node.js, tsx and sometimes PGlite in a child process: seconds each on a busy machine,
// so the cases get the child's own 60 s limit and some room.
describe("async-uploads bin", { timeout: 90_000 }, () => {
  const TSX = join(REPO, "node_modules/.bin/tsx");
  const bin = (args: string[], env: Record<string, string> = {}, cwd = REPO) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      // ASYNC_UPLOADS_CONFIG is cleared so that a value in the developer's shell does not leak in.
      const childEnv = { ...process.env, ASYNC_UPLOADS_CONFIG: "", ...env };
      execFile(process.execPath, [TSX, join(REPO, "bin/async-uploads.ts"), ...args], { cwd, env: childEnv, timeout: 60_000 },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
    });

  it("without --config or ASYNC_UPLOADS_CONFIG exits 2 with one line saying what to pass, and creates nothing", async () => {
    const cwd = await mkdtemp(join(tmpdir(), "cleanup-cwd-"));
    try {
      const result = await bin(["cleanup-temp-files", "--dry-run"], {}, cwd);
      expect(result).toEqual({
        code: 2,
        stdout: "",
        stderr: "cleanup-temp-files: no configuration: pass --config <module> or set ASYNC_UPLOADS_CONFIG (see --help)\n",
      });
      expect(await readdir(cwd)).toEqual([]);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it("reports a module that cannot be parsed in one line, and its stack only with --debug", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cleanup-config-"));
    try {
      const config = join(dir, "broken.config.js");
      await writeFile(config, "export default async function loadUploads() {\n  return {\n");
      const [plain, debug] = await Promise.all([
        bin(["cleanup-temp-files", "--config", config], {}, dir),
        bin(["cleanup-temp-files", "--config", config, "--debug"], {}, dir),
      ]);
      expect(plain.code).toBe(2);
      expect(plain.stdout).toBe("");
      expect(plain.stderr).toMatch(/^cleanup-temp-files: cannot import .*broken\.config\.js: .+ \(see --help\)\n$/);
      expect(debug.code).toBe(2);
      expect(debug.stderr.startsWith(plain.stderr)).toBe(true);
      expect(debug.stderr.split("\n").length).toBeGreaterThan(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("prints usage for --help (exit 0) and refuses a bad option or command (exit 2)", async () => {
    const help = await bin(["cleanup-temp-files", "--help"]);
    expect(help).toMatchObject({ code: 0, stderr: "" });
    expect(help.stdout).toContain("Usage: async-uploads cleanup-temp-files --config <module> [options]");
    expect(help.stdout).toContain("ASYNC_UPLOADS_CONFIG");
    // The report's figures say what they are: bytes freed are declared sizes, not looked up.
    expect(help.stdout).toMatch(/bytes\s+freed, taken from the sizes the uploads declared/);
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

  const configs: Array<[string, (env: Record<string, string>) => string[]]> = [
    ["a TypeScript module named by ASYNC_UPLOADS_CONFIG", (env) => ((env.ASYNC_UPLOADS_CONFIG = fixture("env.config.ts")), [])],
    ["a plain JavaScript module named by --config", () => ["--config", fixture("plain.config.js")]],
  ];
  it.each(configs)(`removes stale rows through %s (${onPostgres ? "PostgreSQL" : "PGlite on disk"})`, async (_name, configure) => {
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
      const env: Record<string, string> = { CLEANUP_TEST_ROOT: backend.root! };
      if (pgliteDir) env.CLEANUP_TEST_PGLITE_DIR = pgliteDir;
      else Object.assign(env, { CLEANUP_TEST_DATABASE_URL: context.url!, CLEANUP_TEST_SCHEMA: context.schema! });

      const result = await bin(["cleanup-temp-files", "--json", ...configure(env)], env);
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
