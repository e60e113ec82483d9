import { and, asc, eq, inArray, lt, notInArray, sql } from "drizzle-orm";
import { asyncExport, type AsyncExport } from "../db/export-schema.js";
import type { Database } from "../db/types.js";
import type { StorageDriver } from "../storage/types.js";
import { EXPORT_EVENT, exportTopic } from "../../shared/exports.js";
import type { LiveMessage } from "../live/fanout.js";
import { userTopic } from "../live/live-channel.js";
import { publishRow, summaryOf, type Publish } from "./state.js";

/** What the cleanup needs from `uploads.exports`. */
export interface ExpiredExportsDeps {
  db: Database;
  publish: Publish;
  /** Many events in one round trip (the live channel's `publishMany`); without it, `publish` each. */
  publishMany?: (messages: LiveMessage[], options: { tx: Database }) => Promise<void>;
  /** The storage of a registered export type; undefined when this process does not register it. */
  storageOf(exportId: string): StorageDriver | undefined;
  now: () => Date;
  log: (message: string, error: unknown) => void;
}

/** Options of one run (`async-uploads cleanup-expired-exports`, or the job engine's schedule). */
export interface ExpiredExportsOptions {
  /** Grace after `expires_at` before a file goes, so a download started at the last minute finishes. @default 1 h */
  leewayMs?: number;
  /** Rows claimed per transaction. @default 100 */
  batchSize?: number;
  /** Count what would go; change nothing. */
  dryRun?: boolean;
  /** Stop between batches after this long. */
  maxDurationMs?: number;
  /** Pause between batches. @default 0 */
  sleepMs?: number;
  /** Stops the run between batches. */
  signal?: AbortSignal;
  /** Called after each batch with the totals so far. */
  onProgress?: (summary: ExpiredExportsSummary) => void;
}

/** What a run did. */
export interface ExpiredExportsSummary {
  /** Rows marked expired, their objects deleted. */
  expired: number;
  /** Rows whose object could not be deleted: left as they were for the next run. */
  failed: number;
  /** Rows of an export type this process does not register (no storage to delete from): left. */
  skipped: number;
  /** Dry run: rows that would be expired. */
  wouldExpire: number;
  dryRun: boolean;
  stoppedBy: "done" | "max-duration" | "signal";
  durationMs: number;
}

export const DEFAULT_EXPORT_LEEWAY_MS = 60 * 60 * 1000;
/** Objects deleted at once within a batch. */
const DELETE_CONCURRENCY = 16;
/** Expiry events published at once after a batch. */
const ANNOUNCE_AT_ONCE = 32;

/**
 * Removes the files of succeeded exports whose `expires_at` passed more than the leeway ago and marks
 * their rows `expired` (key cleared, version bumped; published on the live channel once each batch commits).
 * Safe on many machines at once: each batch claims its rows with `FOR UPDATE SKIP LOCKED` and holds
 * them while it deletes their objects, so two runs never take the same row and each object is deleted
 * once; only `succeeded` rows qualify, so the file of a queued, running or retried export is never
 * touched. A row whose delete fails stays `succeeded` for the next run (and is not retried in this one).
 */
export async function cleanupExpiredExports(deps: ExpiredExportsDeps, options: ExpiredExportsOptions = {}): Promise<ExpiredExportsSummary> {
  const started = Date.now();
  const leewayMs = options.leewayMs ?? DEFAULT_EXPORT_LEEWAY_MS;
  const batchSize = options.batchSize ?? 100;
  const summary: ExpiredExportsSummary = { expired: 0, failed: 0, skipped: 0, wouldExpire: 0, dryRun: options.dryRun ?? false, stoppedBy: "done", durationMs: 0 };
  const cutoff = new Date(deps.now().getTime() - leewayMs);
  const due = and(eq(asyncExport.status, "succeeded"), lt(asyncExport.expiresAt, cutoff));
  const finish = () => ({ ...summary, durationMs: Date.now() - started });

  if (summary.dryRun) {
    const [row] = await deps.db.select({ count: sql<number>`count(*)::int` }).from(asyncExport).where(due);
    summary.wouldExpire = Number(row?.count ?? 0);
    return finish();
  }
  // Rows this run left (a failed delete, an unknown type): not claimed again until the next run.
  const left: string[] = [];
  for (;;) {
    if (options.signal?.aborted) return { ...finish(), stoppedBy: "signal" };
    if (options.maxDurationMs !== undefined && Date.now() - started >= options.maxDurationMs) return { ...finish(), stoppedBy: "max-duration" };
    const batch = await deps.db.transaction(async (tx) => {
      const rows = await tx
        .select()
        .from(asyncExport)
        .where(left.length > 0 ? and(due, notInArray(asyncExport.id, left)) : due)
        .orderBy(asc(asyncExport.expiresAt))
        .limit(batchSize)
        .for("update", { skipLocked: true });
      const removed = await removeObjects(deps, rows, summary, left);
      if (removed.length === 0) return { claimed: rows.length, expired: [] };
      const expired = await tx
        .update(asyncExport)
        .set({ status: "expired", key: null, version: sql`${asyncExport.version} + 1` })
        .where(inArray(asyncExport.id, removed))
        .returning();
      summary.expired += expired.length;
      // With the commit, in one statement: the events leave exactly when the rows change.
      if (deps.publishMany) await deps.publishMany(expired.flatMap(messagesOf), { tx });
      return { claimed: rows.length, expired };
    });
    if (!deps.publishMany) await announce(deps, batch.expired);
    options.onProgress?.(finish());
    if (batch.claimed < batchSize) return finish();
    if (options.sleepMs) await new Promise((resolve) => setTimeout(resolve, options.sleepMs));
  }
}

/** The events `publishRow` sends for a row: on the export's topic and its principal's. */
function messagesOf(row: AsyncExport): LiveMessage[] {
  const data = summaryOf(row);
  return [
    { topic: exportTopic(row.id), event: EXPORT_EVENT, data, version: row.version },
    { topic: userTopic(row.principal), event: EXPORT_EVENT, data, version: row.version },
  ];
}

/**
 * Without `publishMany`: tells the live channel after the batch committed: the row is the truth (a page that misses the event
 * sees `expired` on its next snapshot or poll), and one NOTIFY round trip per event inside the
 * transaction made publishing the cost of the cleanup (measured: 372 rows/s, two events a row). Sent
 * side by side on the pool, a few at a time; a failure is logged.
 */
async function announce(deps: ExpiredExportsDeps, rows: AsyncExport[]): Promise<void> {
  for (let i = 0; i < rows.length; i += ANNOUNCE_AT_ONCE) {
    await Promise.all(
      rows.slice(i, i + ANNOUNCE_AT_ONCE).map((row) =>
        publishRow(deps.publish, deps.db, row).catch((error: unknown) => deps.log(`cleanup-expired-exports: publishing export ${row.id} expired failed`, error)),
      ),
    );
  }
}

/**
 * Deletes the objects of the claimed rows: one `deleteMany` call per storage that has it (S3
 * DeleteObjects, Azure Blob Batch), else `delete` per key, a few at a time. Returns the ids whose
 * object is gone; the others are counted and left for the next run.
 */
async function removeObjects(deps: ExpiredExportsDeps, rows: AsyncExport[], summary: ExpiredExportsSummary, left: string[]): Promise<string[]> {
  const removed: string[] = [];
  const byStorage = new Map<StorageDriver, AsyncExport[]>();
  for (const row of rows) {
    const storage = deps.storageOf(row.exportId);
    if (!storage) {
      summary.skipped += 1;
      left.push(row.id);
    } else if (!row.key) removed.push(row.id);
    else byStorage.set(storage, [...(byStorage.get(storage) ?? []), row]);
  }
  const failed = (row: AsyncExport, error: unknown) => {
    deps.log(`cleanup-expired-exports: deleting the file of export ${row.id} failed; the next run tries again`, error);
    summary.failed += 1;
    left.push(row.id);
  };
  for (const [storage, group] of byStorage) {
    if (storage.deleteMany) {
      try {
        const refused = new Map((await storage.deleteMany(group.map((row) => row.key!))).map((failure) => [failure.key, failure.reason]));
        for (const row of group) {
          const reason = refused.get(row.key!);
          if (reason === undefined) removed.push(row.id);
          else failed(row, new Error(reason));
        }
      } catch (error) {
        for (const row of group) failed(row, error);
      }
      continue;
    }
    let next = 0;
    const worker = async () => {
      for (let row = group[next++]; row; row = group[next++]) {
        try {
          await storage.delete(row.key!);
          removed.push(row.id);
        } catch (error) {
          failed(row, error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, group.length) }, worker));
  }
  return removed;
}
