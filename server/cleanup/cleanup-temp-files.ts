import { and, asc, inArray, notInArray, sql } from "drizzle-orm";
import type { Database } from "../db/database.js";
import { asyncTempFile, TEMP_FILE_STATUSES } from "../db/schema.js";
import { multipartStateOf } from "../multipart/plan.js";
import type { StorageDriver } from "../storage/types.js";
import { sleep } from "../../shared/sleep.js";
import { mapWithConcurrency } from "./async-utils.js";
import { validateCleanupOptions, type CleanupOptions, type CleanupUploads as Uploads } from "./options.js";

export { CleanupUsageError, validateCleanupOptions, type CleanupOptions } from "./options.js";

/** Storage calls in flight at once within one batch. */
const DELETE_CONCURRENCY = 8;
/** After this many failures in a row a storage is treated as down for the rest of the run. */
const STORAGE_DOWN_AFTER = 10;
const FAILURE_SAMPLES = 5;

export interface CleanupProgress {
  batch: number;
  /** Rows handled so far (removed, failed or skipped). */
  done: number;
  /** Rows eligible when the run started (other runs working at once may take some of them). */
  total: number;
  removed: number;
  failed: number;
  skipped: number;
  bytesFreed: number;
  elapsedMs: number;
}

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
  /** Of the removed rows, those whose object still existed (the rest were already gone). */
  objectsDeleted: number;
  /** Sizes of the deleted objects, from `stat` just before deleting. */
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

type Row = { id: string; key: string; fieldId: string; status: string; committedKey: string | null; uploadId: string | null; partSize: number | null; cursor: string };
type Outcome = { kind: "removed"; bytes: number; existed: boolean } | { kind: "failed" | "skipped"; reason: string };

/**
 * Removes uploads that were never saved: `pending`, `failed` and `canceled` rows older than the
 * threshold with their objects; `committed` rows as old whose temp object a crashed save left behind
 * (their `committed_key` is never touched); and `discarded` rows, saved files a committed save
 * replaced or removed whose deletion a crash interrupted. Each batch is claimed with `FOR UPDATE SKIP LOCKED` in one
 * transaction, so concurrent runs never share a row and a row a save is committing is skipped; the
 * object is deleted first and the row only once that worked, so a failure leaves both for next time.
 */
export async function cleanupTempFiles(uploads: Uploads, options: CleanupOptions = {}): Promise<CleanupSummary> {
  const started = Date.now();
  const settings = validateCleanupOptions(uploads, options);
  const { db, registry } = uploads;
  const cutoff = new Date((options.now?.() ?? new Date()).getTime() - settings.olderThanMs);
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

  const storageFailures = new Map<StorageDriver, number>();
  const downFields = new Set<string>();
  const inScope = registry.all().filter((field) => !settings.fieldIds || settings.fieldIds.includes(field.id));
  let cursor: { createdAt: string; id: string } | null = null;

  const handle = async (row: Row): Promise<Outcome> => {
    const field = registry.get(row.fieldId);
    if (!field) return { kind: "skipped", reason: `field "${row.fieldId}" is not registered in this configuration` };
    if (row.committedKey !== null && row.committedKey === row.key) {
      return { kind: "skipped", reason: "temp key equals committed key (never deleted)" };
    }
    const storage = field.storage;
    if ((storageFailures.get(storage) ?? 0) >= STORAGE_DOWN_AFTER) {
      return { kind: "failed", reason: `[${storage.name}] not tried: storage failed ${STORAGE_DOWN_AFTER} times in a row` };
    }
    try {
      // A chunked upload never completed: its staged parts go first (S3 abort, Azure blocks, chunk files).
      const open = multipartStateOf(row);
      if (open && !settings.dryRun) await storage.multipart?.abort(row.key, open.uploadId);
      const info = await storage.stat(row.key);
      // Delete even when stat saw nothing: deleting is idempotent and the only call that must succeed.
      if (!settings.dryRun) await storage.delete(row.key);
      storageFailures.set(storage, 0);
      return { kind: "removed", bytes: info?.size ?? 0, existed: info !== null };
    } catch (error) {
      const failures = (storageFailures.get(storage) ?? 0) + 1;
      storageFailures.set(storage, failures);
      if (failures >= STORAGE_DOWN_AFTER) markStorageDown(storage);
      return { kind: "failed", reason: errorLine(error) };
    }
  };
  const markStorageDown = (storage: StorageDriver) => {
    if (!summary.unavailableStorages.includes(storage.name)) summary.unavailableStorages.push(storage.name);
    for (const field of registry.all()) if (field.storage === storage) downFields.add(field.id);
  };

  const runBatch = async (tx: Database): Promise<Row[]> => {
    const query = tx
      .select({
        id: asyncTempFile.id, key: asyncTempFile.key, fieldId: asyncTempFile.fieldId, status: asyncTempFile.status,
        committedKey: asyncTempFile.committedKey, uploadId: asyncTempFile.uploadId, partSize: asyncTempFile.partSize,
        // Exact (microsecond) text: a JS Date would truncate it and make the keyset revisit rows.
        cursor: sql<string>`${asyncTempFile.createdAt}::text`,
      })
      .from(asyncTempFile)
      .where(and(
        eligible,
        downFields.size > 0 ? notInArray(asyncTempFile.fieldId, [...downFields]) : undefined,
        cursor ? sql`(${asyncTempFile.createdAt}, ${asyncTempFile.id}) > (${cursor.createdAt}::timestamptz, ${cursor.id}::uuid)` : undefined,
      ))
      .orderBy(asc(asyncTempFile.createdAt), asc(asyncTempFile.id))
      .limit(settings.batchSize);
    // A dry run takes no locks, so it never makes a save wait.
    const rows: Row[] = settings.dryRun ? await query : await query.for("update", { skipLocked: true });
    const outcomes = await mapWithConcurrency(rows, DELETE_CONCURRENCY, handle);
    const removedIds = rows.filter((_, i) => outcomes[i]?.kind === "removed").map((row) => row.id);
    if (!settings.dryRun && removedIds.length > 0) await tx.delete(asyncTempFile).where(inArray(asyncTempFile.id, removedIds));
    rows.forEach((row, i) => record(summary, row, outcomes[i]!));
    return rows;
  };

  for (;;) {
    if (options.signal?.aborted) { summary.stoppedBy = "signal"; break; }
    if (settings.maxDurationMs !== undefined && Date.now() - started >= settings.maxDurationMs) { summary.stoppedBy = "max-duration"; break; }
    const rows = settings.dryRun ? await runBatch(db) : await db.transaction((tx) => runBatch(tx));
    if (rows.length === 0) break;
    summary.batches++;
    const last = rows[rows.length - 1]!;
    cursor = { createdAt: last.cursor, id: last.id };
    options.onProgress?.({
      batch: summary.batches, done: summary.scanned, total: summary.total, removed: summary.removed,
      failed: summary.failed, skipped: summary.skipped, bytesFreed: summary.bytesFreed, elapsedMs: Date.now() - started,
    });
    if (inScope.length > 0 && inScope.every((field) => downFields.has(field.id))) { summary.stoppedBy = "storage-unavailable"; break; }
    // A short batch means no unclaimed row is left beyond the cursor.
    if (rows.length < settings.batchSize) break;
    if (settings.sleepMs > 0) {
      const left = settings.maxDurationMs === undefined ? Infinity : settings.maxDurationMs - (Date.now() - started);
      await sleep(Math.min(settings.sleepMs, Math.max(0, left)), options.signal);
    }
  }
  summary.durationMs = Date.now() - started;
  return summary;
}

function record(summary: CleanupSummary, row: Row, outcome: Outcome): void {
  summary.scanned++;
  if (outcome.kind === "removed") {
    summary.removed++;
    summary.bytesFreed += outcome.bytes;
    if (outcome.existed) summary.objectsDeleted++;
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

/**
 * An error as one line: its message (or its name or code when empty, as with AggregateError), then
 * its causes' messages where they add something (drizzle wraps the connection error as the cause).
 */
export function errorLine(error: unknown): string {
  const parts: string[] = [];
  for (let current: unknown = error, depth = 0; current !== undefined && depth < 4; depth++) {
    let message: string;
    if (current instanceof Error) {
      message = current.message;
      if (!message && current instanceof AggregateError) message = current.errors.map(errorLine).join("; ");
      if (!message) message = (current as NodeJS.ErrnoException).code ?? current.name;
    } else {
      message = String(current);
    }
    message = message.replace(/\s+/g, " ").trim();
    if (!parts.some((part) => part.includes(message))) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ");
}
