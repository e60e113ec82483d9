import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupTempFiles } from "../../../server/cleanup/cleanup-temp-files";
import { connectDatabase, type Connection } from "../../../server/db/database";
import { AsyncUploadsError } from "../../../server/errors";
import {
  BACKENDS, bytes, exists, FIELD, HOUR, onPostgres, rowCount, rowIds, seed, spyOn, uploadsOn, useCleanupContext, type CleanupContext,
} from "./helpers";

// Two runs (or a run and a save) at once need two real connections and row locks: PGlite is one
// connection that serialises every transaction, so these cases cannot race there at all.
const raceable = onPostgres ? describe : describe.skip;
if (!onPostgres) console.info("concurrency tests skipped: they need real PostgreSQL (set DATABASE_URL)");

const OLDER_THAN = 1 * HOUR;
/** Old enough for a 1 h cleanup, yet still committable (expires in 20 h). */
const STALE_BUT_SAVABLE = { ageMs: 2 * HOUR, expiresInMs: 20 * HOUR };

raceable("two cleanups at once", () => {
  const context = useCleanupContext("filesystem", { emptyEachTest: false });
  let second: Connection;
  beforeAll(async () => {
    second = await connectDatabase({ url: context.url!, schema: context.schema! });
  });
  afterAll(async () => {
    await second?.close();
  });

  it("remove each of 1,000 stale rows exactly once, with no errors", async () => {
    const rows = await seed(context, Array.from({ length: 1000 }, (_, i) => ({ ageMs: 25 * HOUR + i, bytes: bytes(16) })));
    // Each run has its own connection pool, as two machines would; the spies see every delete.
    const spyA = spyOn(context.backend.storage);
    const spyB = spyOn(context.backend.storage);
    const [a, b] = await Promise.all([
      cleanupTempFiles(uploadsOn(context.db, spyA.storage), { batchSize: 50 }),
      cleanupTempFiles(uploadsOn(second.db, spyB.storage), { batchSize: 50 }),
    ]);
    expect(a.failed + b.failed).toBe(0);
    expect(a.removed + b.removed).toBe(1000);
    expect(a.removed).toBeGreaterThan(0);
    expect(b.removed).toBeGreaterThan(0);
    const deleted = [...spyA.deleted, ...spyB.deleted];
    expect(deleted).toHaveLength(1000);
    expect(new Set(deleted).size).toBe(1000);
    expect(a.bytesFreed + b.bytesFreed).toBe(16 * 1000);
    expect(await rowCount(context.db)).toBe(0);
    for (const row of rows.slice(0, 20)) expect(await exists(context.backend.storage, row.key)).toBe(false);
  });
});

raceable.each(BACKENDS)("cleanup racing a save on %s", (name) => {
  const context = useCleanupContext(name);
  let spy: ReturnType<typeof spyOn>;
  beforeAll(() => {
    spy = spyOn(context.backend.storage);
    Object.assign(context.uploads.registry.get(FIELD)!, { storage: spy.storage });
  });

  const save = (key: string, whileLocked?: () => Promise<void>) =>
    context.uploads.transaction(async (_tx, commit) => {
      const result = await commit({ fieldId: FIELD, value: key, principal: "alice", instanceId: "record-1" });
      await whileLocked?.();
      return result;
    });
  const finalKeyOf = (id: string) => `${FIELD}/record-1/${id}/file.txt`;

  it("skips the row a save is committing; the save succeeds and the file is kept", async () => {
    const [row, other] = await seed(context, [{ ...STALE_BUT_SAVABLE, bytes: bytes(20) }, { ...STALE_BUT_SAVABLE, bytes: bytes(20) }]);
    let summary: Awaited<ReturnType<typeof cleanupTempFiles>> | undefined;
    const result = await save(row!.key, async () => {
      summary = await cleanupTempFiles(context.uploads, { olderThanMs: OLDER_THAN });
    });
    expect(summary).toMatchObject({ scanned: 1, removed: 1, failed: 0 });
    expect(await rowIds(context.db, [other!.id])).toEqual([]);
    expect(result.key).toBe(finalKeyOf(row!.id));
    expect(await context.backend.storage.stat(finalKeyOf(row!.id))).toMatchObject({ size: 20 });
    expect(await exists(context.backend.storage, row!.key)).toBe(false); // afterCommit deleted the temp object
    expect(await rowCount(context.db)).toBe(0);
  });

  it("a save of a row that cleanup has claimed waits, then fails cleanly and stores nothing", async () => {
    const [row] = await seed(context, [{ ...STALE_BUT_SAVABLE, bytes: bytes(20) }]);
    const held = spy.hold();
    const cleanup = cleanupTempFiles(context.uploads, { olderThanMs: OLDER_THAN });
    await held.whenReached; // cleanup holds the row lock and is about to delete the object
    const saving = save(row!.key).then(() => "saved", (error: unknown) => error);
    await waitUntilBlocked(context);
    held.release();
    expect(await cleanup).toMatchObject({ removed: 1, failed: 0 });
    const outcome = await saving;
    expect(outcome).toBeInstanceOf(AsyncUploadsError);
    expect((outcome as AsyncUploadsError).code).toBe("invalid_upload");
    expect(await exists(context.backend.storage, finalKeyOf(row!.id))).toBe(false);
    expect(await exists(context.backend.storage, row!.key)).toBe(false);
    expect(await rowCount(context.db)).toBe(0);
  });

  it("started together, a save either keeps its file or fails cleanly", async () => {
    const outcomes = { saved: 0, refused: 0 };
    for (let i = 0; i < 8; i++) {
      const [row] = await seed(context, [{ ...STALE_BUT_SAVABLE, bytes: bytes(20 + i) }]);
      const [saved, cleaned] = await Promise.allSettled([save(row!.key), cleanupTempFiles(context.uploads, { olderThanMs: OLDER_THAN })]);
      expect(cleaned.status).toBe("fulfilled");
      if (cleaned.status === "fulfilled") expect(cleaned.value.failed).toBe(0);
      if (saved.status === "fulfilled") {
        outcomes.saved++;
        expect(saved.value.key).toBe(finalKeyOf(row!.id));
        expect(await context.backend.storage.stat(finalKeyOf(row!.id))).toMatchObject({ size: 20 + i });
      } else {
        outcomes.refused++;
        expect((saved.reason as AsyncUploadsError).code).toBe("invalid_upload");
        expect(await exists(context.backend.storage, finalKeyOf(row!.id))).toBe(false);
      }
      // Either way nothing is left behind: no row, no temp object.
      expect(await rowCount(context.db)).toBe(0);
      expect(await exists(context.backend.storage, row!.key)).toBe(false);
    }
    expect(outcomes.saved + outcomes.refused).toBe(8);
  });
});

/** Resolves once some session of this database waits for a row lock (the save behind cleanup's claim). */
async function waitUntilBlocked(context: CleanupContext): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const waiting = await context.db.execute<{ n: number }>(
      sql`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()`,
    );
    if (Number((waiting as unknown as Array<{ n: number }>)[0]?.n ?? 0) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error("the save never waited for cleanup's row lock");
}
