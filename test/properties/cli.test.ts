import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { LoadedUploads } from "../../server/cli/command";
import { runCleanupCli } from "../../server/cleanup/cli";
import { asyncTempFile } from "../../server/db/schema";
import { bytes, exists, HOUR, onPostgres, rowCount, seed, useCleanupContext } from "../server/cleanup/helpers";

/**
 * The cleanup command's arguments, generated: whatever a cron line or a person types, the command exits
 * 0, 1 or 2 as its --help says, a refusal is one readable line (no stack, no SQL, no Node.js warning
 * unless --debug), and an invocation it refuses deletes nothing. Run in process (runCleanupCli with the
 * test's own uploads), plus a few real processes.
 */
const REPO = fileURLToPath(new URL("../../", import.meta.url));
const PROVIDED = fileURLToPath(new URL("../server/cleanup/fixtures/provided.config.ts", import.meta.url));
const ENV_CONFIG = fileURLToPath(new URL("../server/cleanup/fixtures/env.config.ts", import.meta.url));
const STALE_ROWS = 3;

const capture = () => {
  const chunks: string[] = [];
  return { isTTY: false, write: (text: string) => void chunks.push(text), get text() { return chunks.join(""); } };
};

// Durations people write, mistype, or push to the extremes.
const durationText = fc.oneof(
  fc.constantFrom(
    "1e400ms", "-1s", "9999999y", "99999999999999999999y", "200000y", "101y", "100y", "2y", "366d", "30d", "25d", "2h", "1h",
    "3601s", "90m", "24h", "7d", "1.5h", "0.5ms", "1ms", "0", "0s", "0ms", "0.0h", "00", "", " ", "24", "1 hour", "2 days", "1h1m",
    "１h", "1h\n", "\u202e1h", "NaN", "Infinity", "1e3", "0x10s", "1_000ms", `${"9".repeat(120)}ms`, "5m", "15m", "16m",
  ),
  fc.tuple(fc.oneof(fc.nat(), fc.double({ noNaN: false }), fc.integer({ min: -5, max: 5 })), fc.constantFrom("", "ms", "s", "m", "h", "d", "w", "y", " hours", "x"))
    .map(([value, unit]) => `${value}${unit}`),
  fc.string({ unit: "grapheme", maxLength: 12 }),
);
const option = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom("--older-than", "--max-duration", "--sleep"), durationText, fc.boolean())
    .map(([name, value, inline]) => (inline ? [`${name}=${value}`] : [name, value])) },
  { weight: 2, arbitrary: fc.tuple(fc.constant("--batch-size"), fc.oneof(fc.constantFrom("1", "2", "100", "10000", "10001", "0", "-3", "1.5", "1e3", "", "٣"), fc.string({ maxLength: 6 })))
    .map(([name, value]) => [name, value]) },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom("docs.file", "avatars.image", "nope", "", " ", "a\nb", "\u0007"), fc.string({ maxLength: 8 })).map((value) => ["--field", value]) },
  { weight: 3, arbitrary: fc.constantFrom("--force", "--dry-run", "--json", "--quiet", "--force=yes", "--json=1").map((flag) => [flag]) },
  { weight: 1, arbitrary: fc.constantFrom("--bogus", "-x", "--", "-", "now", "--older-than", "--sleep", "--config", "--CONFIG", "--field").map((arg) => [arg]) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 10 }).map((arg) => [arg]) },
);
const argvs = fc.array(option, { maxLength: 5 }).map((options) => options.flat());

/** Text that would mean internals leaked into what a person reads. */
const LEAKS = /\n\s+at |Failed query|\bselect\b.*\bfrom\b|invalid input syntax|out of range|Invalid time value|RangeError|TypeError|TimeoutOverflowWarning/i;

describe("cleanup-temp-files arguments, generated (fast-check)", { timeout: 240_000 }, () => {
  const context = useCleanupContext("filesystem", { emptyEachTest: false });
  const provide = (): Promise<LoadedUploads> => Promise.resolve({ uploads: context.uploads, close: async () => {} });
  let keys: string[] = [];

  /** Puts the table back to STALE_ROWS stale rows with objects (after a run that removed them). */
  async function reseed(): Promise<void> {
    if ((await rowCount(context.db)) === STALE_ROWS) return;
    await context.db.delete(asyncTempFile);
    keys = (await seed(context, Array.from({ length: STALE_ROWS }, () => ({ ageMs: 25 * HOUR, bytes: bytes(8) })))).map((row) => row.key);
  }

  async function run(argv: string[]) {
    (globalThis as { provideCleanupUploads?: () => Promise<LoadedUploads> }).provideCleanupUploads = provide;
    const stdout = capture();
    const stderr = capture();
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => void warnings.push(warning);
    process.on("warning", onWarning);
    try {
      // The signal stops a valid run whose --sleep would make it wait (it then exits 1, stopped).
      const code = await runCleanupCli(["--config", PROVIDED, ...argv], { stdout, stderr, env: {}, cwd: REPO, signal: AbortSignal.timeout(3_000) });
      // A warning is emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      return { code, stdout: stdout.text, stderr: stderr.text, warnings };
    } finally {
      process.off("warning", onWarning);
    }
  }

  async function checkInvocation(argv: string[]): Promise<void> {
    await reseed();
    const result = await run(argv);
    const shown = `${JSON.stringify(argv)} → ${result.code}\n${result.stderr}`;
    expect([0, 1, 2], shown).toContain(result.code);
    expect(result.warnings.map(String), shown).toEqual([]);
    const debug = argv.includes("--debug");
    if (!debug) expect(result.stdout + result.stderr, shown).not.toMatch(LEAKS);
    if (result.code === 2) {
      if (!argv.includes("--help") && !argv.includes("-h")) {
        expect(result.stdout, shown).toBe("");
        expect(result.stderr, shown).toMatch(/^cleanup-temp-files: [^\n]+ \(see --help\)\n$/);
      }
      expect(await rowCount(context.db), shown).toBe(STALE_ROWS);
      for (const key of keys) expect(await exists(context.backend.storage, key), shown).toBe(true);
    }
    if (result.code !== 2 && argv.includes("--dry-run")) expect(await rowCount(context.db), shown).toBe(STALE_ROWS);
  }

  it.each([
    [["--sleep", "0"], 0],
    [["--sleep", "0s", "--batch-size", "1"], 0],
    [["--sleep=0ms", "--dry-run"], 0],
    [["--older-than", "9999999y"], 2],
    [["--older-than", "200000y"], 2],
    [["--older-than", "99999999999999999999y", "--force"], 2],
    [["--max-duration", "9999999y"], 2],
    [["--sleep", "30d", "--batch-size", "1"], 2],
    [["--older-than", "0.5ms", "--force"], 2],
    [["--field", "a\nb"], 2],
  ])("%j exits %i, as the generated cases must", async (argv, code) => {
    await checkInvocation(argv as string[]);
    await reseed();
    expect((await run(argv as string[])).code).toBe(code);
  });

  it("any arguments: exit 0, 1 or 2; one readable line when refused; nothing deleted by a refused invocation", async () => {
    await fc.assert(fc.asyncProperty(argvs, checkInvocation), { numRuns: 300 });
  });
});

// Each case starts Node.js and tsx: seconds on a busy machine.
describe("cleanup-temp-files arguments, as a process", { timeout: 120_000 }, () => {
  const bin = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const childEnv = { ...process.env, ASYNC_UPLOADS_CONFIG: "", CLEANUP_TEST_DATABASE_URL: "", ...env };
      execFile(process.execPath, [join(REPO, "node_modules/.bin/tsx"), join(REPO, "bin/async-uploads.ts"), "cleanup-temp-files", "--config", ENV_CONFIG, ...args],
        { cwd: REPO, env: childEnv, timeout: 90_000 }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
    });

  it("refuses extreme durations with exit 2 and one line, and accepts --sleep 0", async () => {
    const root = await mkdtemp(join(tmpdir(), "cleanup-props-"));
    const pglite = await mkdtemp(join(tmpdir(), "cleanup-props-pglite-"));
    try {
      const env: Record<string, string> = { CLEANUP_TEST_ROOT: root, CLEANUP_TEST_SCHEMA: `cli_props_${process.pid}` };
      if (onPostgres) env.CLEANUP_TEST_DATABASE_URL = process.env.DATABASE_URL!;
      else env.CLEANUP_TEST_PGLITE_DIR = pglite;
      const [older, maxDuration, sleep] = await Promise.all([
        bin(["--older-than", "9999999y"], env),
        bin(["--max-duration", "1e400ms"], env),
        bin(["--sleep", "0", "--dry-run", "--json"], env),
      ]);
      expect(older).toEqual({ code: 2, stdout: "", stderr: expect.stringMatching(/^cleanup-temp-files: --older-than must be .*"9999999y".* \(see --help\)\n$/) });
      expect(maxDuration).toEqual({ code: 2, stdout: "", stderr: expect.stringMatching(/^cleanup-temp-files: --max-duration must be .*"1e400ms".* \(see --help\)\n$/) });
      expect(sleep.stderr).toBe("");
      expect(sleep.code).toBe(0);
      expect(JSON.parse(sleep.stdout)).toMatchObject({ dryRun: true, failed: 0 });
    } finally {
      if (onPostgres) {
        const { default: postgres } = await import("postgres");
        const admin = postgres(process.env.DATABASE_URL!, { onnotice: () => {}, max: 1 });
        await admin.unsafe(`drop schema if exists "cli_props_${process.pid}" cascade`);
        await admin.end({ timeout: 5 });
      }
      await rm(root, { recursive: true, force: true });
      await rm(pglite, { recursive: true, force: true });
    }
  });
});
