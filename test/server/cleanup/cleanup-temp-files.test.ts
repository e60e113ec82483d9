import { describe, expect, it } from "vitest";
import { cleanupTempFiles, CleanupUsageError, type CleanupSummary } from "../../../server/cleanup/cleanup-temp-files";
import {
  BACKENDS, bytes, exists, FIELD, HOUR, OTHER_FIELD, rowCount, rowIds, seed, statusOf, uploadsOn, useCleanupContext,
} from "./helpers";

const counts = (s: CleanupSummary) => ({
  total: s.total, scanned: s.scanned, removed: s.removed, objectsDeleted: s.objectsDeleted, bytesFreed: s.bytesFreed,
  failed: s.failed, skipped: s.skipped, skippedReasons: s.skippedReasons,
});

describe.each(BACKENDS)("cleanupTempFiles on %s", (name) => {
  const context = useCleanupContext(name);

  /** One row of every kind; the `stale` ones are what a 24 h cleanup must remove. */
  async function seedEveryKind() {
    const finalKey = (n: number) => `${FIELD}/record-${n}/${crypto.randomUUID()}/file.txt`;
    const committedFinal = [finalKey(1), finalKey(2), finalKey(3)];
    const removedFinal = finalKey(4);
    const rows = await seed(context, [
      { ageMs: 1 * HOUR, bytes: bytes(10) }, // 0 fresh pending
      { ageMs: 1 * HOUR, status: "failed", bytes: bytes(11) }, // 1 fresh failed
      { ageMs: 1 * HOUR, status: "committed", bytes: bytes(12), committedKey: committedFinal[0] }, // 2 fresh committed
      { ageMs: 25 * HOUR, bytes: bytes(100) }, // 3 stale pending
      { ageMs: 25 * HOUR, bytes: null }, // 4 stale pending, never uploaded
      { ageMs: 25 * HOUR, status: "failed", bytes: bytes(50) }, // 5 stale failed (rejected upload)
      { ageMs: 25 * HOUR, status: "discarded", key: removedFinal, bytes: bytes(30) }, // 6 stale replaced file (scheduleDeletion)
      { ageMs: 25 * HOUR, status: "committed", bytes: bytes(70), committedKey: committedFinal[1] }, // 7 crashed save
      { ageMs: 25 * HOUR, status: "committed", bytes: null, committedKey: committedFinal[2] }, // 8 temp already gone
      { ageMs: 25 * HOUR, fieldId: "legacy.field", bytes: bytes(5) }, // 9 field not registered here
    ]);
    for (const key of committedFinal) await context.backend.put(key, bytes(40));
    return { rows, committedFinal };
  }

  it("removes stale pending, failed and discarded rows with their objects, finishes crashed saves, keeps fresh rows and saved files", async () => {
    const { rows, committedFinal } = await seedEveryKind();
    const summary = await cleanupTempFiles(context.uploads, {});

    expect(counts(summary)).toEqual({
      // Objects already gone (rows 4 and 8) count as deleted; their declared sizes (0: never uploaded) as freed.
      total: 7, scanned: 7, removed: 6, objectsDeleted: 6, bytesFreed: 100 + 50 + 30 + 70, failed: 0, skipped: 1,
      skippedReasons: { 'field "legacy.field" is not registered in this configuration': 1 },
    });
    const remaining = [0, 1, 2, 9].map((i) => rows[i]!.id).sort();
    expect(await rowIds(context.db, rows.map((row) => row.id))).toEqual(remaining);
    for (const i of [0, 1, 2, 9]) expect(await exists(context.backend.storage, rows[i]!.key), `object of row ${i}`).toBe(true);
    for (const i of [3, 5, 6, 7]) expect(await exists(context.backend.storage, rows[i]!.key), `object of row ${i}`).toBe(false);
    // The saved files are never touched: only the temp key of a committed row is deleted.
    for (const key of committedFinal) expect(await exists(context.backend.storage, key), key).toBe(true);
    expect(await statusOf(context.db, rows[2]!.id)).toBe("committed");
  });

  it("--dry-run changes nothing and reports the same counts as the real run", async () => {
    const { rows } = await seedEveryKind();
    const before = await rowIds(context.db, rows.map((row) => row.id));
    const dry = await cleanupTempFiles(context.uploads, { dryRun: true, batchSize: 3 });
    expect(dry.dryRun).toBe(true);
    expect(await rowIds(context.db, rows.map((row) => row.id))).toEqual(before);
    for (const i of [3, 5, 6, 7]) expect(await exists(context.backend.storage, rows[i]!.key)).toBe(true);

    const real = await cleanupTempFiles(context.uploads, { batchSize: 3 });
    expect(counts(dry)).toEqual(counts(real));
    expect(real.removed).toBe(6);
  });

  it("--field limits the run to those fields", async () => {
    const rows = await seed(context, [
      { ageMs: 25 * HOUR, bytes: bytes(3) },
      { ageMs: 25 * HOUR, fieldId: OTHER_FIELD, bytes: bytes(4) },
    ]);
    const summary = await cleanupTempFiles(context.uploads, { fieldIds: [OTHER_FIELD] });
    expect(summary.removed).toBe(1);
    expect(await rowIds(context.db, rows.map((row) => row.id))).toEqual([rows[0]!.id]);
    expect(await exists(context.backend.storage, rows[0]!.key)).toBe(true);
  });

  it("--max-duration stops between batches, leaving whole batches for the next run", async () => {
    const rows = await seed(context, Array.from({ length: 30 }, () => ({ ageMs: 25 * HOUR, bytes: bytes(2) })));
    const summary = await cleanupTempFiles(context.uploads, { batchSize: 5, sleepMs: 1000, maxDurationMs: 1500 });
    expect(summary.stoppedBy).toBe("max-duration");
    expect(summary.batches).toBeGreaterThanOrEqual(1);
    expect(summary.batches).toBeLessThan(6);
    expect(summary.removed).toBe(summary.batches * 5);
    const left = await rowIds(context.db, rows.map((row) => row.id));
    expect(left).toHaveLength(30 - summary.removed);
    // Nothing half-done: every row left still has its object.
    for (const row of rows.filter((r) => left.includes(r.id))) expect(await exists(context.backend.storage, row.key)).toBe(true);
    const rest = await cleanupTempFiles(context.uploads, { batchSize: 5 });
    expect(rest.removed).toBe(30 - summary.removed);
    expect(await rowCount(context.db)).toBe(0);
  });

  // Last: it takes the backend down for good.
  it("a storage outage mid-run leaves the unremoved rows for the next run and reports them as failed", async () => {
    const rows = await seed(context, Array.from({ length: 25 }, () => ({ ageMs: 25 * HOUR, bytes: bytes(8) })));
    let downed: Promise<void> | undefined;
    const summary = await cleanupTempFiles(context.uploads, {
      batchSize: 5,
      sleepMs: 300,
      onProgress: (progress) => {
        if (progress.batch === 1) downed = context.backend.takeDown();
      },
    });
    await downed;
    expect(summary.removed).toBe(5);
    expect(summary.failed).toBe(10);
    expect(summary.stoppedBy).toBe("storage-unavailable");
    expect(summary.unavailableStorages).toEqual([name]);
    expect(summary.failures[0]?.reason).toContain(`[${name}]`);
    const left = await rowIds(context.db, rows.map((row) => row.id));
    expect(left).toHaveLength(20);
    // The rows that failed are among those left.
    const keysLeft = rows.filter((row) => left.includes(row.id)).map((row) => row.key);
    for (const failure of summary.failures) expect(keysLeft).toContain(failure.key);
  });
});

describe("cleanupTempFiles options", () => {
  const context = useCleanupContext("filesystem");

  it("refuses a threshold below the upload URL lifetime unless forced", async () => {
    const [row] = await seed(context, [{ ageMs: 20 * 60_000, bytes: bytes(1) }]);
    await expect(cleanupTempFiles(context.uploads, { olderThanMs: 10 * 60_000 })).rejects.toThrow(CleanupUsageError);
    expect(await rowIds(context.db, [row!.id])).toEqual([row!.id]);
    const forced = await cleanupTempFiles(context.uploads, { olderThanMs: 10 * 60_000, force: true });
    expect(forced.removed).toBe(1);
  });

  it("refuses bad options and unknown fields before touching anything", async () => {
    await seed(context, [{ ageMs: 25 * HOUR, bytes: bytes(1) }]);
    for (const options of [{ batchSize: 0 }, { batchSize: -1 }, { batchSize: 1.5 }, { olderThanMs: Number.NaN }, { maxDurationMs: 0 }, { fieldIds: ["nope"] }]) {
      await expect(cleanupTempFiles(context.uploads, options), JSON.stringify(options)).rejects.toThrow(CleanupUsageError);
    }
    expect(await rowCount(context.db)).toBe(1);
  });

  it("defaults to 24 h, or to the temp file lifetime when that is longer", async () => {
    const rows = await seed(context, [{ ageMs: 23 * HOUR, bytes: bytes(1) }, { ageMs: 30 * HOUR, bytes: bytes(1) }, { ageMs: 49 * HOUR, bytes: bytes(1) }]);
    const longLived = uploadsOn(context.db, context.backend.storage);
    Object.assign(longLived.settings, { tempFileLifetimeMs: 48 * HOUR });
    expect((await cleanupTempFiles(longLived, {})).removed).toBe(1);
    expect((await cleanupTempFiles(context.uploads, {})).removed).toBe(1);
    expect(await rowIds(context.db, rows.map((row) => row.id))).toEqual([rows[0]!.id]);
  });

  it("never deletes a committed row's object when its temp key is its committed key", async () => {
    const key = `${FIELD}/record/${crypto.randomUUID()}/file.txt`;
    await seed(context, [{ ageMs: 25 * HOUR, status: "committed", key, committedKey: key, bytes: bytes(9) }]);
    const summary = await cleanupTempFiles(context.uploads, {});
    expect(summary.skipped).toBe(1);
    expect(await exists(context.backend.storage, key)).toBe(true);
  });

  it("reports progress after each batch and walks rows created in the same instant only once", async () => {
    // One insert: every row has the same created_at, so only the id orders them.
    await seed(context, [
      ...Array.from({ length: 7 }, () => ({ ageMs: 25 * HOUR, fieldId: "legacy.field", bytes: null })),
      ...Array.from({ length: 5 }, () => ({ ageMs: 25 * HOUR, bytes: bytes(1) })),
    ]);
    const seen: number[] = [];
    const summary = await cleanupTempFiles(context.uploads, { batchSize: 4, onProgress: (p) => seen.push(p.done) });
    expect(seen).toEqual([4, 8, 12]);
    expect(summary).toMatchObject({ total: 12, scanned: 12, removed: 5, skipped: 7, batches: 3 });
  });

  it("stops between batches when its signal aborts (SIGINT/SIGTERM in the CLI)", async () => {
    await seed(context, Array.from({ length: 9 }, () => ({ ageMs: 25 * HOUR, bytes: bytes(1) })));
    const controller = new AbortController();
    const summary = await cleanupTempFiles(context.uploads, { batchSize: 3, signal: controller.signal, onProgress: () => controller.abort() });
    // No batch is claimed after the signal; those already claimed beside the first (three are in
    // progress at once) still finish, whole.
    expect(summary.stoppedBy).toBe("signal");
    expect(summary.batches).toBeGreaterThanOrEqual(1);
    expect(summary.batches).toBeLessThanOrEqual(3);
    expect(summary.removed).toBe(summary.batches * 3);
    expect(await rowCount(context.db)).toBe(9 - summary.removed);
  });
});
