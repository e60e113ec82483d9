import type { PgBoss } from "pg-boss";
import type { Database } from "../db/types.js";
import { sendInTransaction } from "../processing/send-in-transaction.js";
import type { ResolvedExport } from "./types.js";

/** The queue of export jobs: one job per queued attempt of one export. */
export const EXPORT_QUEUE = "async-uploads.export";
/** Where pg-boss puts an export job whose retries are spent without a verdict (its workers died or hung): the export becomes `failed`. */
export const FAILED_EXPORT_QUEUE = "async-uploads.export-failed";

/** An export job's data: the row, and the attempt it was sent for (a job of an earlier attempt changes nothing). */
export interface ExportJob {
  id: string;
  attempt: number;
}

/**
 * Seconds between the heartbeats a worker sends for each export it holds; pg-boss's monitor takes back
 * (and retries elsewhere) a job whose worker missed one, so a dead worker's export moves on in well
 * under a minute with the monitor interval of `createBoss`. 10 is pg-boss's minimum.
 */
export const EXPORT_HEARTBEAT_SECONDS = 10;

/** Sends an export job inside the caller's drizzle transaction: the job exists exactly when the row's change commits. */
export function sendExportJob(boss: PgBoss, tx: Database, job: ExportJob, definition: ResolvedExport): Promise<void> {
  return sendInTransaction(boss, tx, EXPORT_QUEUE, job, {
    retryLimit: definition.retryLimit,
    expireInSeconds: Math.ceil(definition.timeoutSeconds),
    heartbeatSeconds: EXPORT_HEARTBEAT_SECONDS,
    deadLetter: FAILED_EXPORT_QUEUE,
  });
}

/** Creates both queues (and puts them in pg-boss's cache, which a send inside our PGlite transaction needs). */
export async function createExportQueues(boss: PgBoss): Promise<void> {
  await boss.createQueue(FAILED_EXPORT_QUEUE, { notify: true });
  await boss.createQueue(EXPORT_QUEUE, { deadLetter: FAILED_EXPORT_QUEUE, notify: true, heartbeatSeconds: EXPORT_HEARTBEAT_SECONDS });
}
