import { eq } from "drizzle-orm";
import type { PgBoss } from "pg-boss";
import { EXPORT_CLEARED_EVENT, exportTopic, isActiveExportStatus, type ExportSummary } from "../../shared/exports.js";
import { asyncExport, type AsyncExport } from "../db/export-schema.js";
import type { Database } from "../db/types.js";
import { AsyncUploadsError } from "../errors.js";
import { userTopic } from "../live/live-channel.js";
import { sendExportJob } from "./jobs.js";
import type { ExportRegistry } from "./registry.js";
import { checkConcurrency, findActiveTwin, lockPrincipal } from "./request.js";
import { changeExport, lockExport, summaryOf, type Publish } from "./state.js";

/** The row, locked, when it is `principal`'s; 404 otherwise (another principal's export is never revealed). */
async function lockOwn(tx: Database, id: string, principal: string): Promise<AsyncExport> {
  const row = await lockExport(tx, id);
  if (!row || row.principal !== principal) throw new AsyncUploadsError("not_found", "There is no such export.");
  return row;
}

/**
 * Cancels a queued or running export: the row becomes `cancelled` and its event (a NOTIFY every
 * instance hears) aborts the writer's signal wherever it runs; the worker then removes its object. A
 * finished export is answered as it is.
 */
export async function cancelExport(db: Database, publish: Publish, id: string, principal: string, now: Date): Promise<ExportSummary> {
  return db.transaction(async (tx) => {
    const row = await lockOwn(tx, id, principal);
    if (!isActiveExportStatus(row.status)) return summaryOf(row);
    return summaryOf(await changeExport(tx, publish, row, { status: "cancelled", finishedAt: now }));
  });
}

/**
 * Queues a failed or cancelled export again (attempt + 1, so a late job of the previous attempt changes
 * nothing), within the same bounds as a new request: 409 when the principal already has the identical
 * export queued or running, 429 over the concurrency bound.
 */
export async function retryExport(db: Database, boss: PgBoss, publish: Publish, registry: ExportRegistry, id: string, principal: string): Promise<ExportSummary> {
  return db.transaction(async (tx) => {
    await lockPrincipal(tx, principal);
    const row = await lockOwn(tx, id, principal);
    if (row.status !== "failed" && row.status !== "cancelled") {
      throw new AsyncUploadsError("not_retryable", "Only a failed or cancelled export can be tried again.");
    }
    const definition = registry.get(row.exportId);
    if (!definition) throw new AsyncUploadsError("unknown_export", "This kind of export is no longer offered.");
    if (await findActiveTwin(tx, principal, row.exportId, row.criteriaHash)) {
      throw new AsyncUploadsError("not_retryable", "The same export is already being built.");
    }
    await checkConcurrency(tx, principal, definition.maxConcurrentPerPrincipal);
    const queued = await changeExport(tx, publish, row, {
      status: "queued",
      attempt: row.attempt + 1,
      percentage: null,
      message: null,
      key: null,
      size: null,
      startedAt: null,
      finishedAt: null,
      expiresAt: null,
    });
    await sendExportJob(boss, tx, { id: row.id, attempt: queued.attempt }, definition);
    return summaryOf(queued);
  });
}

/**
 * Removes an export from the principal's list, and its file once that is committed. A queued or
 * running one is cancelled in the same transaction (its event stops the worker). Publishes
 * `export-cleared` `{id}` so the person's other tabs drop it too.
 */
export async function clearExport(
  db: Database,
  publish: Publish,
  registry: ExportRegistry,
  id: string,
  principal: string,
  now: Date,
  log: (message: string, error: unknown) => void,
): Promise<void> {
  const removed = await db.transaction(async (tx) => {
    let row = await lockOwn(tx, id, principal);
    if (isActiveExportStatus(row.status)) row = await changeExport(tx, publish, row, { status: "cancelled", finishedAt: now });
    await tx.delete(asyncExport).where(eq(asyncExport.id, id));
    const data = { id };
    await publish(exportTopic(id), EXPORT_CLEARED_EVENT, data, { tx, version: row.version + 1 });
    await publish(userTopic(principal), EXPORT_CLEARED_EVENT, data, { tx, version: row.version + 1 });
    return row;
  });
  const storage = registry.get(removed.exportId)?.storage;
  if (removed.key && storage) {
    await storage.delete(removed.key).catch((error: unknown) => log(`could not delete the file of cleared export ${id}; cleanup-expired-exports will`, error));
  }
}
