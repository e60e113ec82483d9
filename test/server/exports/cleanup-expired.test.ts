import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { eq, inArray, sql } from "drizzle-orm";
import { PgBoss } from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asyncExport, type NewAsyncExport } from "../../../server/db/export-schema";
import { runExportsCleanupCli } from "../../../server/exports/cleanup-cli";
import { EXPORT_CLEANUP_QUEUE } from "../../../server/exports/cleanup-schedule";
import { createExportWorld, waitForStatus, type ExportInstance, type ExportWorld } from "./harness";

const HOUR = 3_600_000;

describe("cleanup-expired-exports (PostgreSQL)", () => {
  let world: ExportWorld;
  let instances: ExportInstance[];
  const deletes = new Map<string, number>();

  beforeAll(async () => {
    world = await createExportWorld("postgres");
    const register = (uploads: ExportInstance["uploads"]) =>
      uploads.exports.register("docs.csv", { criteria: (input) => input, filename: () => "docs.csv", contentType: "text/csv", write: async () => {} });
    // Two app instances (two machines), neither running a worker: the runs below are the only cleanups.
    instances = [await world.instance({ register, start: false }), await world.instance({ register, start: false })];
    // Every deletion counted, one by one or many at once (the filesystem driver has deleteMany).
    const count = (key: string) => deletes.set(key, (deletes.get(key) ?? 0) + 1);
    const original = world.storage.delete.bind(world.storage);
    world.storage.delete = async (key) => {
      count(key);
      return original(key);
    };
    const originalMany = world.storage.deleteMany?.bind(world.storage);
    if (originalMany) {
      world.storage.deleteMany = async (keys) => {
        const failed = await originalMany(keys);
        for (const key of keys) if (!failed.some((failure) => failure.key === key)) count(key);
        return failed;
      };
    }
  }, 60_000);
  afterAll(() => world?.close());

  /** Rows with a real file each; `expiresAt` relative to now. */
  async function seed(count: number, row: Partial<NewAsyncExport> & { expiresInMs: number }): Promise<NewAsyncExport[]> {
    const { expiresInMs, ...rest } = row;
    const rows: NewAsyncExport[] = [];
    for (let i = 0; i < count; i++) {
      const id = randomUUID();
      const key = `async-exports/${id}/1.0`;
      const body = (async function* () {
        yield new TextEncoder().encode(`row ${i}\n`);
      })();
      await world.storage.writeStream(key, body, { contentType: "text/csv" });
      rows.push({
        id, exportId: "docs.csv", principal: `p${i % 7}`, criteria: { i }, criteriaHash: `h-${id}`, filename: "docs.csv", contentType: "text/csv",
        status: "succeeded", key, size: 6, finishedAt: new Date(), expiresAt: new Date(Date.now() + expiresInMs), ...rest,
      });
    }
    for (let i = 0; i < rows.length; i += 500) await world.db.insert(asyncExport).values(rows.slice(i, i + 500));
    return rows;
  }

  // 200 rows in batches of 10: the same 20 batches for the two runs to share as 1,000 in batches of 50
  // (the overlap under test), at a fifth of the seeding, deleting and checking.
  const EXPIRED = 200;
  it("two runs at once on 200 expired exports (20 batches) delete each file exactly once; live and not-yet-due ones stay", async () => {
    const expired = await seed(EXPIRED, { expiresInMs: -2 * HOUR });
    const withinLeeway = await seed(5, { expiresInMs: -30 * 60_000 });
    const notExpired = await seed(5, { expiresInMs: HOUR });
    // Live exports (a retry after expiry, one being built): never touched, whatever their expires_at says.
    const live = [...(await seed(3, { status: "running", expiresInMs: -5 * HOUR })), ...(await seed(3, { status: "queued", expiresInMs: -5 * HOUR }))];
    const [a, b] = await Promise.all(instances.map((instance) => instance.uploads.exports.cleanupExpired({ batchSize: 10 })));
    expect(a!.expired + b!.expired).toBe(EXPIRED);
    expect(a!.failed + b!.failed).toBe(0);
    // Both did a share (SKIP LOCKED let them run side by side, not one after the other).
    expect(a!.expired).toBeGreaterThan(0);
    expect(b!.expired).toBeGreaterThan(0);
    for (const row of expired) expect(deletes.get(row.key!), row.key!).toBe(1);
    expect(deletes.size).toBe(EXPIRED);
    const after = await world.db.select().from(asyncExport).where(inArray(asyncExport.id, expired.map((row) => row.id)));
    expect(after.every((row) => row.status === "expired" && row.key === null && row.version === 2)).toBe(true);
    for (const row of expired.slice(0, 20)) expect(await world.storage.stat(row.key!)).toBeNull();
    for (const row of [...withinLeeway, ...notExpired, ...live]) {
      expect(await world.storage.stat(row.key!), row.status!).not.toBeNull();
      const [stored] = await world.db.select().from(asyncExport).where(eq(asyncExport.id, row.id!));
      expect(stored!.status).toBe(row.status);
      expect(stored!.key).toBe(row.key);
    }
    // The change reached the live channel (the download centre shows "expired").
    const expiredEvents = world.delivered.filter((message) => message.event === "export" && (message.data as { status: string }).status === "expired");
    expect(expiredEvents.length).toBeGreaterThanOrEqual(EXPIRED);

    // A leeway of 0 takes the 5 within the hour's grace too; a dry run only counts.
    const dry = await instances[0]!.uploads.exports.cleanupExpired({ leewayMs: 0, dryRun: true });
    expect(dry.wouldExpire).toBe(5);
    expect((await instances[0]!.uploads.exports.cleanupExpired({ leewayMs: 0 })).expired).toBe(5);
    for (const row of withinLeeway) expect(await world.storage.stat(row.key!)).toBeNull();
    for (const row of notExpired) expect(await world.storage.stat(row.key!)).not.toBeNull();
  }, 120_000);

  it("a file that cannot be deleted keeps its row for the next run", async () => {
    const [row] = await seed(1, { expiresInMs: -2 * HOUR });
    const original = world.storage.delete;
    const originalMany = world.storage.deleteMany;
    world.storage.delete = async (key) => {
      if (key === row!.key) throw new Error("storage unavailable");
      return original(key);
    };
    if (originalMany) {
      world.storage.deleteMany = async (keys) => [
        ...(await originalMany(keys.filter((key) => key !== row!.key))),
        ...keys.filter((key) => key === row!.key).map((key) => ({ key, reason: "storage unavailable" })),
      ];
    }
    try {
      const summary = await instances[0]!.uploads.exports.cleanupExpired();
      expect(summary.failed).toBe(1);
      const [stored] = await world.db.select().from(asyncExport).where(eq(asyncExport.id, row!.id!));
      expect(stored!.status).toBe("succeeded");
    } finally {
      world.storage.delete = original;
      world.storage.deleteMany = originalMany;
    }
    expect((await instances[0]!.uploads.exports.cleanupExpired()).expired).toBe(1);
  });

  it("uses the storage's deleteMany (one call per batch) where it has one; a key it refuses keeps its row", async () => {
    const rows = await seed(30, { expiresInMs: -2 * HOUR });
    const refusedKey = rows[3]!.key!;
    const calls: number[] = [];
    const originalMany = world.storage.deleteMany;
    world.storage.deleteMany = async (keys) => {
      calls.push(keys.length);
      for (const key of keys) if (key !== refusedKey) await world.storage.delete(key);
      return [{ key: refusedKey, reason: "[filesystem] AccessDenied" }];
    };
    try {
      const summary = await instances[0]!.uploads.exports.cleanupExpired({ batchSize: 20 });
      expect(summary).toMatchObject({ expired: 29, failed: 1 });
      expect(calls).toEqual([20, 10]);
      const [kept] = await world.db.select().from(asyncExport).where(eq(asyncExport.id, rows[3]!.id!));
      expect(kept!.status).toBe("succeeded");
      expect(await world.storage.stat(refusedKey)).not.toBeNull();
    } finally {
      world.storage.deleteMany = originalMany;
    }
    expect((await instances[0]!.uploads.exports.cleanupExpired()).expired).toBe(1);
  });

  it("CLI: usage errors exit 2 with one line, before anything is loaded", async () => {
    for (const argv of [["--leeway", "5"], ["--leeway", "-1h"], ["--batch-size", "0", "--config", "x.js"], ["--bogus"], ["--sleep", "2h", "--config", "x.js"], []]) {
      let err = "";
      const io = { stdout: { write: () => true }, stderr: { write: (text: string) => ((err += text), true) }, env: {}, cwd: process.cwd() };
      expect(await runExportsCleanupCli(argv, io as never), argv.join(" ")).toBe(2);
      expect(err.trim().split("\n")).toHaveLength(1);
      expect(err).toMatch(/^cleanup-expired-exports: .*\(see --help\)$/m);
    }
    // Through the real command: the subcommand is wired and the exit status reaches the shell.
    const run = spawnSync(process.execPath, ["--import", "tsx", "bin/async-uploads.ts", "cleanup-expired-exports", "--leeway", "5", "--config", "x.js"], { encoding: "utf8" });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--leeway must be a duration of zero or more such as 90m, 24h or 7d, not "5"');
  }, 60_000);
});

describe("cleanup-expired-exports on the job engine's schedule (PostgreSQL)", () => {
  let world: ExportWorld;
  afterAll(() => world?.close());

  it("uploads.start() schedules it on pg-boss cron, a tick's job runs it on a worker, and cleanupSchedule: false removes the schedule", async () => {
    world = await createExportWorld("postgres");
    const register = (uploads: ExportInstance["uploads"]) =>
      uploads.exports.register("docs.csv", { criteria: (input) => input, filename: () => "docs.csv", contentType: "text/csv", write: async () => {} });
    const schedules = async () =>
      (await world.db.execute(sql.raw(`select name, cron from "${world.bossSchema}".schedule`))) as unknown as { name: string; cron: string }[];
    const worker = await world.instance({ register, exports: { cleanupSchedule: "*/5 * * * *" } });
    expect(await schedules()).toEqual([{ name: EXPORT_CLEANUP_QUEUE, cron: "*/5 * * * *" }]);

    // A tick: what pg-boss's cron sends. The worker's cleanup expires the due export.
    const id = randomUUID();
    const key = `async-exports/${id}/1.0`;
    await world.storage.writeStream(key, (async function* () { yield new TextEncoder().encode("x\n"); })(), { contentType: "text/csv" });
    await world.db.insert(asyncExport).values({
      id, exportId: "docs.csv", principal: "p", criteria: {}, criteriaHash: id, filename: "docs.csv", contentType: "text/csv",
      status: "succeeded", key, size: 2, expiresAt: new Date(Date.now() - 2 * HOUR),
    });
    const boss = new PgBoss({ connectionString: process.env.DATABASE_URL!, schema: world.bossSchema });
    boss.on("error", () => {});
    await boss.start();
    try {
      await boss.send(EXPORT_CLEANUP_QUEUE, null);
    } finally {
      await boss.stop({ graceful: false });
    }
    await waitForStatus(world.db, id, ["expired"], 60_000);
    expect(await world.storage.stat(key)).toBeNull();
    await worker.uploads.close();

    await world.instance({ register, exports: { cleanupSchedule: false }, processing: { worker: false } });
    expect(await schedules()).toEqual([]);
  }, 120_000);
});
