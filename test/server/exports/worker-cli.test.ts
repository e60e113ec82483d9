import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createAsyncUploads } from "../../../server/create-async-uploads";
import { runWorkerCli } from "../../../server/exports/worker-cli";
import { filesystemStorage } from "../../../server/storage/filesystem";
import { createTestDatabase } from "../../helpers/db";
import { TEST_SECRET } from "../../helpers/uploads";
import { rowOf, waitForStatus } from "./harness";

const REPO = resolve(__dirname, "../../..");
const FIXTURE = join(__dirname, "fixtures/worker.config.ts");

function memoryIo(env: Record<string, string | undefined> = {}, signal?: AbortSignal) {
  const out = { stdout: "", stderr: "" };
  return {
    out,
    io: { stdout: { write: (text: string) => ((out.stdout += text), true) }, stderr: { write: (text: string) => ((out.stderr += text), true) }, env, cwd: REPO, signal },
  };
}

describe("async-uploads worker", () => {
  it("without a configuration exits 2 with one line saying what to pass", async () => {
    const { out, io } = memoryIo();
    expect(await runWorkerCli([], io as never)).toBe(2);
    expect(out.stderr).toBe("worker: no configuration: pass --config <module> or set ASYNC_UPLOADS_CONFIG (see --help)\n");
    const unknown = memoryIo();
    expect(await runWorkerCli(["--config", FIXTURE, "--concurrency", "3"], unknown.io as never)).toBe(2);
    expect(unknown.out.stderr).toMatch(/^worker: .*--concurrency.*\(see --help\)\n$/);
    const help = memoryIo();
    expect(await runWorkerCli(["--help"], help.io as never)).toBe(0);
    expect(help.out.stdout).toContain("Usage: async-uploads worker --config <module>");
  });

  // A real second process builds what a web-only instance queued; SIGTERM stops it cleanly.
  it.skipIf(!process.env.DATABASE_URL)("builds, as its own process, an export a web-only instance queued, and stops on SIGTERM with exit 0", { timeout: 120_000 }, async () => {
    const database = await createTestDatabase();
    const root = await mkdtemp(join(tmpdir(), "export-worker-"));
    const bossSchema = `pgboss_${randomBytes(5).toString("hex")}`;
    const channel = `export_worker_${randomBytes(5).toString("hex")}`;
    const web = createAsyncUploads({
      db: database.db,
      secret: TEST_SECRET,
      storage: filesystemStorage({ root }),
      getPrincipal: () => null,
      live: { channel },
      processing: { schema: bossSchema, worker: false },
    });
    web.exports.register("lines.txt", { criteria: (input) => input as { rows: number }, filename: () => "lines.txt", contentType: "text/plain", write: async () => {} });
    const child = spawn(process.execPath, [join(REPO, "node_modules/.bin/tsx"), join(REPO, "bin/async-uploads.ts"), "worker", "--config", FIXTURE], {
      cwd: REPO,
      env: { ...process.env, WORKER_TEST_DATABASE_URL: database.url!, WORKER_TEST_SCHEMA: database.schema!, WORKER_TEST_ROOT: root, WORKER_TEST_BOSS_SCHEMA: bossSchema, WORKER_TEST_CHANNEL: channel },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolveExit) => child.on("exit", (code) => resolveExit(code)));
    try {
      await web.start();
      const result = await web.exports.request({ exportId: "lines.txt", criteria: { rows: 3 }, principal: "alice" });
      if (!("queued" in result)) throw new Error("expected a queued export");
      const done = await waitForStatus(database.db, result.queued.id, ["succeeded", "failed"], 90_000);
      expect(done.status).toBe("succeeded");
      const text = await readFile(join(root, done.key!), "utf8");
      // Built in the worker's process (tsx runs the command in a child of its own), not in this one.
      const pids = [...text.matchAll(/^line \d \(built by pid (\d+)\)$/gm)].map((match) => Number(match[1]));
      expect(pids).toHaveLength(3);
      expect(pids.every((pid) => pid === pids[0] && pid !== process.pid)).toBe(true);
      expect(stdout).toContain("worker: started");
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(stdout).toContain("worker: stopped");
      expect(stderr).toBe("");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await web.close();
      await database.db.execute(sql.raw(`drop schema if exists "${bossSchema}" cascade`)).catch(() => {});
      await database.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  // A worker process killed mid-export (no graceful stop, no more heartbeats): another worker takes the
  // job once pg-boss's monitor sees the missed heartbeats (10 s, checked every 15 s), well within a minute.
  it.skipIf(!process.env.DATABASE_URL)("hands the export of a SIGKILLed worker process to another worker, which builds it", { timeout: 150_000 }, async () => {
    const database = await createTestDatabase();
    const root = await mkdtemp(join(tmpdir(), "export-worker-"));
    const bossSchema = `pgboss_${randomBytes(5).toString("hex")}`;
    const channel = `export_worker_${randomBytes(5).toString("hex")}`;
    const common = { db: database.db, secret: TEST_SECRET, storage: filesystemStorage({ root }), getPrincipal: () => null, live: { channel } };
    const register = (uploads: ReturnType<typeof createAsyncUploads>) =>
      uploads.exports.register("lines.txt", {
        criteria: (input) => input as { rows: number },
        filename: () => "lines.txt",
        contentType: "text/plain",
        write: async ({ output }) => output.write("rebuilt\n"),
      });
    const web = createAsyncUploads({ ...common, processing: { schema: bossSchema, worker: false } });
    register(web);
    const child = spawn(process.execPath, [join(REPO, "node_modules/.bin/tsx"), join(REPO, "bin/async-uploads.ts"), "worker", "--config", FIXTURE], {
      cwd: REPO,
      env: { ...process.env, WORKER_TEST_DATABASE_URL: database.url!, WORKER_TEST_SCHEMA: database.schema!, WORKER_TEST_ROOT: root, WORKER_TEST_BOSS_SCHEMA: bossSchema, WORKER_TEST_CHANNEL: channel },
      stdio: "ignore",
      detached: true, // its own process group: SIGKILL reaches tsx's child too
    });
    let rescuer: ReturnType<typeof createAsyncUploads> | null = null;
    try {
      await web.start();
      const result = await web.exports.request({ exportId: "lines.txt", criteria: { rows: 1, hang: true }, principal: "alice" });
      if (!("queued" in result)) throw new Error("expected a queued export");
      const id = result.queued.id;
      const running = await waitForStatus(database.db, id, ["running"], 90_000);
      process.kill(-child.pid!, "SIGKILL");
      rescuer = createAsyncUploads({ ...common, processing: { schema: bossSchema, pollingIntervalSeconds: 0.5 } });
      register(rescuer);
      await rescuer.start();
      const killedAt = Date.now();
      const done = await waitForStatus(database.db, id, ["succeeded", "failed"], 90_000);
      expect(done.status).toBe("succeeded");
      expect(done.key).not.toBe(running.key);
      expect(await readFile(join(root, done.key!), "utf8")).toBe("rebuilt\n");
      expect(Date.now() - killedAt).toBeLessThan(60_000);
      expect((await rowOf(database.db, id))?.attempt).toBe(1); // the same request, not a new one
    } finally {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
      await rescuer?.close();
      await web.close();
      await database.db.execute(sql.raw(`drop schema if exists "${bossSchema}" cascade`)).catch(() => {});
      await database.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
