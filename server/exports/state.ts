import { and, eq, sql, type SQL } from "drizzle-orm";
import { EXPORT_EVENT, exportTopic, type ExportSummary } from "../../shared/exports.js";
import { asyncExport, type AsyncExport } from "../db/export-schema.js";
import type { Database } from "../db/types.js";
import type { LiveMessage } from "../live/fanout.js";
import { userTopic } from "../live/live-channel.js";

/** Publishes on the live channel (the `LiveChannel.publish` signature). */
export type Publish = (topic: string, event: string, data: unknown, options?: { tx?: Database; version?: number }) => Promise<void>;

/** The wire form of a row. */
export function summaryOf(row: AsyncExport): ExportSummary {
  return {
    id: row.id,
    exportId: row.exportId,
    filename: row.filename,
    contentType: row.contentType,
    status: row.status,
    percentage: row.percentage,
    message: row.message,
    size: row.size,
    createdAt: row.createdAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    version: row.version,
  };
}

/** Sends a row's state on `export:<id>` and `user:<principal>`, when `tx` commits. */
export async function publishRow(publish: Publish, tx: Database, row: AsyncExport): Promise<ExportSummary> {
  const summary = summaryOf(row);
  await publish(exportTopic(row.id), EXPORT_EVENT, summary, { tx, version: row.version });
  await publish(userTopic(row.principal), EXPORT_EVENT, summary, { tx, version: row.version });
  return summary;
}

/** Locks and reads one export row inside `tx`. */
export async function lockExport(tx: Database, id: string): Promise<AsyncExport | undefined> {
  const [row] = await tx.select().from(asyncExport).where(eq(asyncExport.id, id)).for("update");
  return row;
}

/** The changeable columns of a row. */
export type ExportChange = Partial<
  Pick<AsyncExport, "status" | "percentage" | "message" | "key" | "size" | "startedAt" | "finishedAt" | "expiresAt" | "attempt">
>;

/**
 * Writes `change` on the locked row `row` inside `tx` (version + 1) and publishes the new state with
 * the same `tx`, so the event leaves only if the change commits.
 */
export async function changeExport(tx: Database, publish: Publish, row: AsyncExport, change: ExportChange): Promise<AsyncExport> {
  const [updated] = await tx
    .update(asyncExport)
    .set({ ...change, version: row.version + 1 })
    .where(eq(asyncExport.id, row.id))
    .returning();
  if (!updated) throw new Error(`[async-uploads] export ${row.id} vanished while locked`);
  await publishRow(publish, tx, updated);
  return updated;
}

/**
 * One statement instead of a locking transaction, for the worker's hot path: applies `change`
 * (version + 1) to export `id` only while `guard` holds, and publishes the new state once that
 * statement committed. Null when the guard did not hold (the caller falls back or lets go).
 */
export async function changeExportIf(
  db: Database,
  publish: Publish,
  id: string,
  guard: SQL | undefined,
  change: ExportChange,
): Promise<AsyncExport | null> {
  const [updated] = await db
    .update(asyncExport)
    .set({ ...change, version: sql`${asyncExport.version} + 1` })
    .where(and(eq(asyncExport.id, id), guard))
    .returning();
  if (!updated) return null;
  await publishCommitted(publish, updated);
  return updated;
}

/** Several live events in one statement (the live channel's `publishMany`). */
export type PublishMany = (messages: LiveMessage[]) => Promise<void>;

/**
 * Publishes a row's state, already committed, on both of its topics: in one statement with
 * `publishMany` (the worker's hot path, twice per export), else two NOTIFYs side by side.
 */
export async function publishCommitted(publish: Publish, row: AsyncExport, publishMany?: PublishMany): Promise<void> {
  const summary = summaryOf(row);
  if (publishMany) {
    const message = (topic: string): LiveMessage => ({ topic, event: EXPORT_EVENT, data: summary, version: row.version });
    await publishMany([message(exportTopic(row.id)), message(userTopic(row.principal))]);
    return;
  }
  await Promise.all([
    publish(exportTopic(row.id), EXPORT_EVENT, summary, { version: row.version }),
    publish(userTopic(row.principal), EXPORT_EVENT, summary, { version: row.version }),
  ]);
}
