import { eq } from "drizzle-orm";
import type { PgBoss } from "pg-boss";
import { PROCESSING_FAILED_REASON } from "../../shared/processing.js";
import type { Database } from "../db/types.js";
import { asyncTempFile, type AsyncTempFile } from "../db/schema.js";
import { basenameOfKey } from "../keys.js";
import type { Field, FieldRegistry } from "../registry.js";
import { FAILED_STEP_QUEUE, sendStepJob, STEP_QUEUE, stepsOf, type StepJob } from "./jobs.js";
import type { WorkerSettings } from "./options.js";
import { runStepAttempt, verifyStep } from "./run-step.js";
import { changeState, lockProcessingRow, type ProcessingRow } from "./state.js";
import type { Publish, ResolvedStep } from "./types.js";

/** What the worker needs. */
export interface WorkerDeps {
  db: Database;
  registry: FieldRegistry;
  publish: Publish;
  log: (message: string, error: unknown) => void;
}

/** One step job's attempt, as pg-boss hands it over. */
interface StepAttempt {
  data: StepJob;
  retryCount: number;
  signal: AbortSignal;
}

/** The steps of the field a row belongs to, the built-in `verify` first. */
export function plannedStepsOf(field: Field): ResolvedStep[] {
  return stepsOf(field, verifyStep);
}

/**
 * Whether a job still speaks for the row: the upload is pending, its processing is under way, and
 * nothing changed since the job was sent, except the job's own first attempt marking its step
 * running (version + 1). A job of an earlier run (the person asked again after `failed`), or one
 * that pg-boss handed out again after its worker was presumed dead, changes nothing.
 */
function jobOwnsRow(row: ProcessingRow, job: StepJob): boolean {
  if (row.status !== "pending" || (row.processingState !== "queued" && row.processingState !== "running")) return false;
  if (row.processingVersion === job.version) return true;
  return row.processingVersion === job.version + 1 && row.processingState === "running" && row.processingStep === job.step;
}

/**
 * Runs one attempt of one step of one file: marks the step running (one transaction, one event),
 * runs it outside any transaction (a step may take a minute; PGlite has a single connection), then
 * records the outcome in a second transaction: rejected, passed, or the next step running with its
 * job sent in that same transaction. A throw or a timeout is rethrown for pg-boss to retry; once the
 * retries are spent pg-boss moves the job to `FAILED_STEP_QUEUE` (`handleFailedJob`).
 */
export async function handleStepJob(deps: WorkerDeps, boss: PgBoss, attempt: StepAttempt): Promise<void> {
  const job = attempt.data;
  const claimed = await deps.db.transaction(async (tx) => {
    const row = await lockProcessingRow(tx, { id: job.fileId });
    if (!row || !jobOwnsRow(row, job)) return null;
    const field = deps.registry.get(row.fieldId);
    const steps = field ? plannedStepsOf(field) : [];
    const index = steps.findIndex((candidate) => candidate.name === job.step);
    const step = steps[index];
    if (!field || !step) {
      // This instance has no such step (a deploy changed the field's steps while the file was between
      // two of them): it could not be checked; asking again starts over with the steps as they are now.
      deps.log(`upload ${row.id}: field "${row.fieldId}" has no processing step "${job.step}" here; the file is marked failed`, null);
      await changeState(tx, deps.publish, field, row, { state: "failed", step: job.step, reason: PROCESSING_FAILED_REASON });
      return null;
    }
    let version = row.processingVersion;
    if (row.processingState !== "running" || row.processingStep !== step.name) {
      version = (await changeState(tx, deps.publish, field, row, { state: "running", step: step.name, reason: null })).version;
    }
    const [file] = await tx.select().from(asyncTempFile).where(eq(asyncTempFile.id, row.id));
    return file ? { file, field, step, next: steps[index + 1], version } : null;
  });
  if (!claimed) return;
  const { file, field, step, next, version } = claimed;
  let outcome: { reject: string | null };
  try {
    outcome = await runStepAttempt(step, contextOf(file, field), attempt.signal);
  } catch (error) {
    deps.log(`processing step "${step.name}" of upload ${file.id} failed (attempt ${attempt.retryCount + 1} of ${step.retryLimit + 1})`, error);
    throw error;
  }
  const rejected = await deps.db.transaction(async (tx) => {
    const row = await lockProcessingRow(tx, { id: file.id });
    // Someone else moved the file on meanwhile (a presumed-dead attempt finishing late): leave it be.
    if (!row || row.status !== "pending" || row.processingState !== "running" || row.processingVersion !== version) return false;
    if (outcome.reject !== null) {
      await changeState(tx, deps.publish, field, row, { state: "rejected", step: step.name, reason: outcome.reject });
      return true;
    }
    if (!next) {
      await changeState(tx, deps.publish, field, row, { state: "passed", step: step.name, reason: null });
      return false;
    }
    const running = await changeState(tx, deps.publish, field, row, { state: "running", step: next.name, reason: null });
    await sendStepJob(boss, tx, { fileId: file.id, step: next.name, version: running.version }, next);
    return false;
  });
  // A rejected file can never be saved (nor processed again): its bytes (a virus, say) go now rather
  // than at expiry. The row stays, so the page and `process` still learn why; cleanup removes it later.
  if (rejected) await field.storage.delete(file.key).catch((error: unknown) => deps.log(`could not delete rejected upload ${file.key}; cleanup-temp-files will`, error));
}

/** A step job whose retries are spent (or whose worker died each time): the file could not be checked. */
export async function handleFailedJob(deps: WorkerDeps, job: StepJob): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const row = await lockProcessingRow(tx, { id: job.fileId });
    if (!row || !jobOwnsRow(row, job)) return;
    await changeState(tx, deps.publish, deps.registry.get(row.fieldId), row, { state: "failed", step: job.step, reason: PROCESSING_FAILED_REASON });
  });
}

/** What a step is told about the file. */
function contextOf(file: AsyncTempFile, field: Field) {
  return {
    fileId: file.id,
    key: file.key,
    fieldId: file.fieldId,
    principal: file.principal,
    filename: basenameOfKey(file.key),
    contentType: file.contentType,
    size: file.declaredSize,
    storage: field.storage,
  };
}

/** Starts the worker of both queues on `boss`. Returns the worker ids, for `offWork`. */
export async function startWorker(deps: WorkerDeps, boss: PgBoss, options: WorkerSettings): Promise<string[]> {
  const polling = { pollingIntervalSeconds: options.pollingIntervalSeconds, notifyPollingIntervalSeconds: Math.max(5, options.pollingIntervalSeconds) };
  const steps = await boss.work<StepJob>(STEP_QUEUE, { ...polling, batchSize: 1, localConcurrency: options.concurrency }, async ([job]) => {
    if (job) await handleStepJob(deps, boss, job);
  });
  const failed = await boss.work<StepJob>(FAILED_STEP_QUEUE, { ...polling, batchSize: 1 }, async ([job]) => {
    if (job) await handleFailedJob(deps, job.data);
  });
  return [steps, failed];
}
