import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { connectDatabase } from "../../../server/db/database";
import { DatabaseInUseError, LOCK_FILE_NAME, lockDatabaseDirectory } from "../../../server/db/directory-lock";
import { bytes, HOUR, rowCount, seed, startBackend, uploadsOn } from "../cleanup/helpers";
import { killAndWait } from "../../helpers/kill-and-wait";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const TSX = join(REPO, "node_modules/.bin/tsx");
const HOLDER = fileURLToPath(new URL("./fixtures/hold-pglite.ts", import.meta.url));
const CLEANUP_CONFIG = fileURLToPath(new URL("../cleanup/fixtures/env.config.ts", import.meta.url));

/** A child process that opens `dir` with the library's opener; resolves once it holds it, or with how it exited. */
function startHolder(dir: string): Promise<{ child: ChildProcess; pid: number } | { exitCode: number | null; stderr: string }> {
  // `--import tsx` rather than the tsx command: one process, so its pid is the holder's and signals reach it.
  const child = spawn(process.execPath, ["--import", "tsx", HOLDER, dir], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  return new Promise((resolve) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const ready = /ready (\d+)\n/.exec(stdout);
      if (ready) resolve({ child, pid: Number(ready[1]) });
    });
    child.stderr!.on("data", (chunk: Buffer) => void (stderr += chunk.toString()));
    child.on("exit", (exitCode) => resolve({ exitCode, stderr }));
  });
}

async function holding(dir: string): Promise<{ child: ChildProcess; pid: number }> {
  const started = await startHolder(dir);
  if (!("pid" in started)) throw new Error(`the holder did not start (exit ${started.exitCode}): ${started.stderr}`);
  return started;
}

/** Stops a holder with SIGTERM (it closes the database and releases the lock) and waits for it to exit. */
function stopHolder(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once("exit", (code) => resolve(code));
    child.kill("SIGTERM");
  });
}

describe("the embedded database's directory lock", { timeout: 90_000 }, () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "pglite-lock-"));
  });
  afterEach(async () => {
    for (const child of children.splice(0)) await killAndWait(child);
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a second process with one line naming the directory and the holder's pid; the refused process exits cleanly", async () => {
    const holder = await holding(dir);
    children.push(holder.child);
    await expect(connectDatabase({ dataDir: dir })).rejects.toThrow(
      new RegExp(`^\\[async-uploads\\] the embedded database in ${dir} is in use by another process \\(pid ${holder.pid}\\)`),
    );
    const second = await startHolder(dir);
    expect(second).toMatchObject({ exitCode: 3 });
    expect("stderr" in second && second.stderr.trim().split("\n")).toEqual([expect.stringContaining(`${dir} is in use by another process (pid ${holder.pid})`)]);
    expect(await stopHolder(holder.child)).toBe(0);
    expect(existsSync(join(dir, LOCK_FILE_NAME))).toBe(false);
  });

  it("the cleanup command beside a running app exits 1 with one line, and removes nothing", async () => {
    const backend = await startBackend("filesystem");
    const root = backend.root!;
    try {
      const seeded = await connectDatabase({ dataDir: dir });
      const context = { db: seeded.db, uploads: uploadsOn(seeded.db, backend.storage), backend, close: seeded.close };
      await seed(context, [{ ageMs: 25 * HOUR, bytes: bytes(10) }, { ageMs: 25 * HOUR, bytes: bytes(10) }]);
      await seeded.close();
      const holder = await holding(dir);
      children.push(holder.child);
      const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const env = { ...process.env, ASYNC_UPLOADS_CONFIG: "", CLEANUP_TEST_DATABASE_URL: "", CLEANUP_TEST_PGLITE_DIR: dir, CLEANUP_TEST_ROOT: root };
        execFile(process.execPath, [TSX, join(REPO, "bin/async-uploads.ts"), "cleanup-temp-files", "--config", CLEANUP_CONFIG], { cwd: REPO, env, timeout: 60_000 },
          (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
      });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr.split("\n")).toEqual([expect.stringMatching(new RegExp(`^cleanup-temp-files: .*${dir} is in use by another process \\(pid ${holder.pid}\\)`)), ""]);
      expect(await stopHolder(holder.child)).toBe(0);
      const reopened = await connectDatabase({ dataDir: dir });
      expect(await rowCount(reopened.db)).toBe(2);
      await reopened.close();
    } finally {
      await backend.close();
    }
  });

  it("takes over the lock of a process that was killed (SIGKILL), and the database opens", async () => {
    const holder = await holding(dir);
    await new Promise((resolve) => {
      holder.child.once("exit", resolve);
      holder.child.kill("SIGKILL");
    });
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE_NAME), "utf8"))).toMatchObject({ pid: holder.pid });
    const reopened = await connectDatabase({ dataDir: dir });
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE_NAME), "utf8"))).toMatchObject({ pid: process.pid });
    await reopened.close();
    expect(existsSync(join(dir, LOCK_FILE_NAME))).toBe(false);
  });

  it("refuses a second opener in the same process until the first closes (the lock alone, no PGlite)", () => {
    const release = lockDatabaseDirectory(dir);
    expect(() => lockDatabaseDirectory(join(dir, "."))).toThrow(DatabaseInUseError);
    expect(() => lockDatabaseDirectory(join(dir, "."))).toThrow(`the embedded database in ${dir} is already open in this process`);
    release();
    expect(existsSync(join(dir, LOCK_FILE_NAME))).toBe(false);
    lockDatabaseDirectory(dir)();
  });

  it("takes over a lock left with this process's own pid by an earlier process (a container's pid 1 after a restart)", async () => {
    await writeFile(join(dir, LOCK_FILE_NAME), JSON.stringify({ pid: process.pid, hostname: hostname(), token: "earlier" }));
    const release = lockDatabaseDirectory(dir);
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE_NAME), "utf8"))).toMatchObject({ pid: process.pid, token: expect.not.stringMatching(/^earlier$/) });
    release();
  });

  it("refuses while a live process of another host or this one holds it, and takes over an unreadable or dead one", async () => {
    const lockPath = join(dir, LOCK_FILE_NAME);
    await writeFile(lockPath, JSON.stringify({ pid: 1, hostname: "elsewhere", token: "t" }));
    expect(() => lockDatabaseDirectory(dir)).toThrow(`in use by another process (pid 1 on elsewhere)`);
    await writeFile(lockPath, JSON.stringify({ pid: process.ppid, hostname: hostname(), token: "t" }));
    expect(() => lockDatabaseDirectory(dir)).toThrow(`in use by another process (pid ${process.ppid})`);
    await writeFile(lockPath, "not json");
    lockDatabaseDirectory(dir)();
    await writeFile(lockPath, JSON.stringify({ pid: 2 ** 31 - 2, hostname: hostname(), token: "t" }));
    lockDatabaseDirectory(dir)();
    expect(existsSync(lockPath)).toBe(false);
  });
});
