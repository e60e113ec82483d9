import type { PgBoss } from "pg-boss";
import { VERIFY_STEP } from "../../shared/processing.js";
import type { Database } from "../db/types.js";
import { sendInTransaction } from "./send-in-transaction.js";
import type { Field } from "../registry.js";
import { DEFAULT_STEP_RETRY_LIMIT, DEFAULT_STEP_TIMEOUT_SECONDS } from "./steps.js";
import type { ResolvedStep } from "./types.js";

/** The queue of step jobs: one job per step of one file; the next step's job is sent when a step passes. */
export const STEP_QUEUE = "async-uploads.process-step";
/** Where pg-boss puts a step job whose retries are spent (or whose worker died): the file becomes `failed`. */
export const FAILED_STEP_QUEUE = "async-uploads.process-step-failed";

/**
 * A step job's data: which file, which step (by name: instances of a rolling deploy may list other
 * steps), and the file's processing version when the job was sent, so that a job left over from an
 * earlier run changes nothing.
 */
export interface StepJob {
  fileId: string;
  step: string;
  version: number;
}

/** Seconds pg-boss waits past a step's own timeout before it takes the job back from a worker that died. */
const EXPIRY_MARGIN_SECONDS = 30;

/** A field's steps in the order they run: the built-in `verify` first. Empty when the field has no app steps. */
export function stepsOf(field: Field, verify: (field: Field) => ResolvedStep["run"]): ResolvedStep[] {
  if (field.processing.length === 0) return [];
  const builtIn: ResolvedStep = {
    ...VERIFY_STEP,
    run: verify(field),
    timeoutSeconds: DEFAULT_STEP_TIMEOUT_SECONDS,
    retryLimit: DEFAULT_STEP_RETRY_LIMIT,
  };
  return [builtIn, ...field.processing];
}

/** Sends a step job inside the caller's drizzle transaction: a rolled-back request leaves no job. */
export function sendStepJob(boss: PgBoss, tx: Database, job: StepJob, step: ResolvedStep): Promise<void> {
  return sendInTransaction(boss, tx, STEP_QUEUE, job, {
    retryLimit: step.retryLimit,
    expireInSeconds: Math.ceil(step.timeoutSeconds) + EXPIRY_MARGIN_SECONDS,
    deadLetter: FAILED_STEP_QUEUE,
  });
}

/**
 * Creates both queues (pg-boss 10+ needs a queue to exist before jobs are sent to it); harmless when
 * they exist. It also puts them in pg-boss's queue cache: on PGlite (one connection) a cache miss
 * inside our transaction would wait for the very connection that transaction holds.
 */
export async function createQueues(boss: PgBoss): Promise<void> {
  await boss.createQueue(FAILED_STEP_QUEUE, { notify: true });
  await boss.createQueue(STEP_QUEUE, { deadLetter: FAILED_STEP_QUEUE, notify: true });
}
