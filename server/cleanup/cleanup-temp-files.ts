import { and, inArray, sql } from "drizzle-orm";
import type { Database } from "../db/database.js";
import { asyncTempFile, TEMP_FILE_STATUSES } from "../db/schema.js";
import { sleep } from "../../shared/sleep.js";
import { claimBatch, deleteRows, KEYSET_START, relaxBatch } from "./batch-queries.js";
import { limitConcurrency, mapWithConcurrency, takeTurns } from "./async-utils.js";
import { errorLine } from "./error-line.js";
import { validateCleanupOptions, type CleanupOptions, type CleanupProgress, type CleanupSettings, type CleanupUploads as Uploads } from "./options.js";
import { deleteDeferred, removeRow, StorageHealth, type CleanupRow as Row, type RemovalOutcome as Outcome } from "./remove-row.js";

export { CleanupUsageError, validateCleanupOptions, type CleanupOptions, type CleanupProgress, type CleanupSettings } from "./options.js";
export { errorLine } from "./error-line.js";

/** Storage calls in flight at once, over every batch in progress. */
const DELETE_CONCURRENCY = 8;
/**
 * Batches in progress at once (each in its own transaction): while one batch's objects are being
 * deleted, the next is claimed and the one before is committed, so the database's round trips
 * overlap the storage's instead of adding to them. Claims still take turns, so the keyset moves on
 * in order and two batches never share a row (`SKIP LOCKED` would also see to that). Three, not two:
 * with two, the storage sat idle whenever both were at the database (claim, DELETE, commit); on the
 * filesystem bench (bench/commit-cleanup.ts) three came closer to bare deletes, four no closer.
 */
const LANES = 3;
const FAILURE_SAMPLES = 5;

export interface CleanupFailure {
  key: string;
  fieldId: string;
  reason: string;
}

export interface CleanupSummary {
  dryRun: boolean;
  olderThanMs: number;
  /** Rows created before this instant were eligible. */
  cutoff: string;
  /** Rows eligible when the run started. */
  total: number;
  /** Rows this run claimed and looked at. */
  scanned: number;
  /** Rows removed with their objects (in a dry run: that would be removed). */
  removed: number;
  /**
   * Objects deleted with the removed rows, those already gone included: storage deletes do not say
   * which (S3's DeleteObjects does not). Equal to `removed`; kept for scripts that read it. (It used
   * to leave out objects already gone, which cost a `stat` of every object before deleting it.)
   */
  objectsDeleted: number;
  /**
   * The declared sizes of the removed uploads: what each was allowed to store (S3 and the filesystem
   * refuse any other size; Azure cannot, and a misbehaving client may have stored more there). An
   * upload that never finished or was already gone counts in full. For a saved file a save replaced
   * (a `discarded` row, which records no size) the object's size, looked up before deleting.
   */
  bytesFreed: number;
  /** Rows left for the next run because storage failed. */
  failed: number;
  /** The first few failures. */
  failures: CleanupFailure[];
  /** Rows left alone on purpose, e.g. of a field this configuration does not register. */
  skipped: number;
  /** Why rows were skipped, with counts. */
  skippedReasons: Record<string, number>;
  /** Storages that failed repeatedly; their remaining rows were not tried in this run. */
  unavailableStorages: string[];
  batches: number;
  /** Why the run ended before every eligible row was handled, or null when it did not. */
  stoppedBy: "max-duration" | "signal" | "storage-unavailable" | null;
  durationMs: number;
}

/**
 * Removes uploads that were never saved: `pending`, `failed` and `canceled` rows older than the
 * threshold with their objects; `committed` rows as old whose temp object a crashed save left behind
 * (their `committed_key` is never touched); and `discarded` rows, saved files a committed save
 * replaced or removed whose deletion a crash interrupted. Each batch is claimed with `FOR UPDATE SKIP LOCKED` in one
 * transaction, so concurrent runs never share a row and a row a save is committing is skipped; the
 * object is deleted first and the row only once that worked, so a failure leaves both for next time.
 */
export async function cleanupTempFiles(uploads: Uploads, options: CleanupOptions = {}): Promise<CleanupSummary> {
  return runCleanup(uploads, validateCleanupOptions(uploads, options));
}

/** `cleanupTempFiles` with options already validated (the command validates them before it starts). */
export async function runCleanup(uploads: Uploads, settings: CleanupSettings): Promise<CleanupSummary> {
  const started = Date.now();
  const { db, registry } = uploads;
  const cutoff = new Date(settings.now().getTime() - settings.olderThanMs);
  await probeStorages(uploads, settings.fieldIds);

  const summary: CleanupSummary = {
    dryRun: settings.dryRun, olderThanMs: settings.olderThanMs, cutoff: cutoff.toISOString(), total: 0, scanned: 0,
    removed: 0, objectsDeleted: 0, bytesFreed: 0, failed: 0, failures: [], skipped: 0, skippedReasons: {},
    unavailableStorages: [], batches: 0, stoppedBy: null, durationMs: 0,
  };
  const eligible = and(
    inArray(asyncTempFile.status, [...TEMP_FILE_STATUSES]),
    sql`${asyncTempFile.createdAt} < ${cutoff.toISOString()}::timestamptz`,
    settings.fieldIds ? inArray(asyncTempFile.fieldId, [...settings.fieldIds]) : undefined,
  );
  const [counted] = await db.select({ total: sql<number>`count(*)::int` }).from(asyncTempFile).where(eligible);
  summary.total = Number(counted?.total ?? 0);

  const downFields = new Set<string>();
  const health = new StorageHealth((storage) => {
    if (!summary.unavailableStorages.includes(storage.name)) summary.unavailableStorages.push(storage.name);
    for (const field of registry.all()) if (field.storage === storage) downFields.add(field.id);
  });
  const inScope = registry.all().filter((field) => !settings.fieldIds || settings.fieldIds.includes(field.id));
  let cursor: { createdAt: string; id: string } = KEYSET_START;
  // Why no further batch is claimed, once that is known: a stop reason, or "done" (no row is left).
  let ended: CleanupSummary["stoppedBy"] | "done" | undefined;
  let failure: { error: unknown } | undefined;
  const allDown = () => inScope.length > 0 && inScope.every((field) => downFields.has(field.id));
  const endIfDue = () => {
    if (ended) return;
    if (settings.signal?.aborted) ended = "signal";
    else if (settings.maxDurationMs !== undefined && Date.now() - started >= settings.maxDurationMs) ended = "max-duration";
    else if (allDown()) ended = "storage-unavailable";
  };
  // Storage calls of every batch in progress share one bound. Staged parts aborted row by row;
  // objects deleted in one call per storage where the storage can (S3, Azure), else row by row.
  const limit = limitConcurrency(DELETE_CONCURRENCY);
  const handle = (row: Row) => limit(() => removeRow(row, registry.get(row.fieldId), health, settings.dryRun, true));
  const claimTurns = takeTurns();

  /** The next batch after the cursor, claimed (locked) in `tx`, one claim at a time; [] when the run ends. */
  const claim = (tx: Database): Promise<Row[]> =>
    claimTurns(async () => {
      endIfDue();
      if (ended || failure) return [];
      const rows = await claimBatch(tx, !settings.dryRun, {
        cutoff: cutoff.toISOString(), fieldIds: settings.fieldIds ?? null, downFields: [...downFields], after: cursor, limit: settings.batchSize,
      });
      const last = rows[rows.length - 1];
      if (last) cursor = { createdAt: last.cursor, id: last.id };
      // A short batch means no unclaimed row is left beyond the cursor.
      if (rows.length < settings.batchSize) ended = "done";
      return rows;
    });

  const runBatch = async (tx: Database): Promise<{ rows: Row[]; outcomes: Outcome[] }> => {
    // Sent now and awaited after the claim, which waits its turn meanwhile. Its failure is the
    // claim's too (the transaction is aborted), and is thrown below either way.
    const relaxed = settings.dryRun ? undefined : relaxBatch(tx);
    relaxed?.catch(() => {});
    const rows = await claim(tx);
    await relaxed;
    const outcomes: Outcome[] = await deleteDeferred(rows, await mapWithConcurrency(rows, DELETE_CONCURRENCY, handle), health);
    const removedIds = rows.filter((_, i) => outcomes[i]?.kind === "removed").map((row) => row.id);
    if (!settings.dryRun && removedIds.length > 0) await deleteRows(tx, removedIds);
    return { rows, outcomes };
  };

  /** Batch after batch until the run ends; with `LANES` of these, one claims while another deletes. */
  const lane = async () => {
    for (;;) {
      endIfDue();
      if (ended || failure) return;
      let batch: { rows: Row[]; outcomes: Outcome[] };
      try {
        batch = settings.dryRun ? await runBatch(db) : await db.transaction((tx) => runBatch(tx));
      } catch (error) {
        // The database failed (a storage failure is a row's outcome): the other lanes finish their batch and stop.
        failure ??= { error };
        return;
      }
      const { rows, outcomes } = batch;
      if (rows.length === 0) return;
      // Counted once its transaction committed, and reported in the same step: with two lanes, counting
      // inside the transaction let one lane's report include the other's batch ([8, 8, 12], not [4, 8, 12]).
      rows.forEach((row, i) => record(summary, row, outcomes[i]!));
      summary.batches++;
      settings.onProgress?.({
        batch: summary.batches, done: summary.scanned, total: summary.total, removed: summary.removed,
        failed: summary.failed, skipped: summary.skipped, bytesFreed: summary.bytesFreed, elapsedMs: Date.now() - started,
      });
      if (settings.sleepMs > 0 && !ended) {
        const left = settings.maxDurationMs === undefined ? Infinity : settings.maxDurationMs - (Date.now() - started);
        await sleep(Math.min(settings.sleepMs, Math.max(0, left)), settings.signal);
      }
    }
  };
  // A pause between batches (--sleep) asks for one batch at a time, so it gets one lane.
  await Promise.all(Array.from({ length: settings.sleepMs > 0 ? 1 : LANES }, lane));
  if (failure) throw failure.error;
  // A storage that went down during the last batch still says why rows were left.
  summary.stoppedBy = ended === "done" || ended === undefined ? (allDown() ? "storage-unavailable" : null) : ended;
  summary.durationMs = Date.now() - started;
  return summary;
}

function record(summary: CleanupSummary, row: Row, outcome: Outcome): void {
  summary.scanned++;
  if (outcome.kind === "removed") {
    summary.removed++;
    summary.bytesFreed += outcome.bytes;
    summary.objectsDeleted++;
  } else if (outcome.kind === "failed") {
    summary.failed++;
    if (summary.failures.length < FAILURE_SAMPLES) summary.failures.push({ key: row.key, fieldId: row.fieldId, reason: outcome.reason });
  } else {
    summary.skipped++;
    summary.skippedReasons[outcome.reason] = (summary.skippedReasons[outcome.reason] ?? 0) + 1;
  }
}

/**
 * One `stat` of a key that does not exist, per storage in scope, before anything is claimed: a storage
 * that is unreachable or misconfigured (credentials, bucket, container) stops the run with its own
 * message instead of failing every row.
 */
async function probeStorages(uploads: Uploads, fieldIds: readonly string[] | undefined): Promise<void> {
  const storages = new Set(uploads.registry.all().filter((f) => !fieldIds || fieldIds.includes(f.id)).map((f) => f.storage));
  const probeKey = `${uploads.settings.tempPrefix}cleanup-probe/${crypto.randomUUID()}`;
  await Promise.all(
    [...storages].map(async (storage) => {
      try {
        await storage.stat(probeKey);
      } catch (error) {
        throw new Error(`storage "${storage.name}" is not usable: ${errorLine(error)}`, { cause: error });
      }
    }),
  );
}
