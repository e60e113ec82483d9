import { eq } from "drizzle-orm";
import { PROCESSING_EVENT, uploadTopic, type ProcessingState, type UploadProcessingPlan } from "../../shared/processing.js";
import type { Database } from "../db/types.js";
import { asyncTempFile } from "../db/schema.js";
import { AsyncUploadsError } from "../errors.js";
import type { Field, FieldRegistry } from "../registry.js";
import type { JobEngine } from "./job-engine.js";
import { createQueues, sendStepJob } from "./jobs.js";
import { changeState, lockProcessingRow, processingStateOf } from "./state.js";
import { plannedSteps } from "./steps.js";
import type { Publish } from "./types.js";
import { plannedStepsOf, startWorker } from "./worker.js";

/** The part of the live channel processing uses (`server/live/`'s `LiveChannel` has it). */
export interface ProcessingLive {
  publish: Publish;
  topicToken(topic: string, principal: string): string;
  registerSnapshot(prefix: string, provider: (id: string, principal: string) => Promise<{ event: string; data: unknown; version: number } | null>): void;
}

export interface UploadProcessingDeps {
  db: Database;
  registry: FieldRegistry;
  live: ProcessingLive;
  /** The shared pg-boss (`uploads.start()`), which this registers itself with. */
  jobs: JobEngine;
  now: () => Date;
  log: (message: string, error: unknown) => void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Upload processing of one `createAsyncUploads`: its queues and worker on the shared pg-boss, the
 * `POST process` request, the plan in `upload-url`'s answer and the `upload:<id>` snapshot.
 */
export class UploadProcessing {
  readonly #deps: UploadProcessingDeps;
  readonly #publish: Publish;

  constructor(deps: UploadProcessingDeps) {
    this.#deps = deps;
    this.#publish = (topic, event, data, options) => deps.live.publish(topic, event, data, options);
    deps.live.registerSnapshot("upload", (id, principal) => this.snapshot(id, principal));
    const workerDeps = { db: deps.db, registry: deps.registry, publish: this.#publish, log: deps.log };
    deps.jobs.use({
      // Apps without processing steps need neither pg-boss nor a worker.
      needed: () => deps.registry.hasProcessing(),
      createQueues: (boss) => createQueues(boss),
      startWorkers: async (boss, settings) => {
        await startWorker(workerDeps, boss, settings);
      },
    });
  }

  /** `upload-url`'s `processing` for a new upload of `field`, or undefined when the field has no steps. */
  plan(field: Field, fileId: string, principal: string): UploadProcessingPlan | undefined {
    if (field.processing.length === 0) return undefined;
    return { fileId, topicToken: this.#deps.live.topicToken(uploadTopic(fileId), principal), steps: plannedSteps(field.processing) };
  }

  /**
   * `POST process`: queues the first step of `principal`'s pending upload `key`, in the transaction
   * that marks it queued. Idempotent: while queued or running, and after passed or rejected, the
   * current state is the answer; after `failed` the file is queued again ("try again").
   */
  async request(principal: string, key: string): Promise<ProcessingState> {
    const [row] = await this.#deps.db.select().from(asyncTempFile).where(eq(asyncTempFile.key, key));
    const notFound = () => new AsyncUploadsError("not_found", "There is no such upload waiting to be checked. Please choose the file again.");
    if (!row || row.principal !== principal || row.status !== "pending" || row.expiresAt.getTime() <= this.#deps.now().getTime()) throw notFound();
    const field = this.#deps.registry.get(row.fieldId);
    if (!field || field.processing.length === 0) throw notFound();
    const current = processingStateOf(row, field);
    if (current && current.state !== "failed") return current;
    const boss = this.#deps.jobs.boss;
    if (!boss) {
      this.#deps.log("POST process before uploads.start(): call `await uploads.start()` when the app starts", new Error("processing not started"));
      throw new AsyncUploadsError("processing_unavailable", "Files cannot be checked right now. Please try again in a moment.");
    }
    // Checked before the transaction: a storage call has no business holding a row lock (or, on
    // PGlite, the only connection).
    const notUploaded = () => new AsyncUploadsError("not_uploaded", "The file has not finished uploading yet.");
    if (row.uploadId !== null || !(await field.storage.stat(row.key))) throw notUploaded();
    const [first] = plannedStepsOf(field);
    return this.#deps.db.transaction(async (tx) => {
      const locked = await lockProcessingRow(tx, { id: row.id });
      if (!locked || locked.status !== "pending") throw notFound();
      const now = processingStateOf(locked, field);
      if (now && now.state !== "failed") return now;
      const queued = await changeState(tx, this.#publish, field, locked, { state: "queued", step: null, reason: null });
      if (first) await sendStepJob(boss, tx, { fileId: row.id, step: first.name, version: queued.version }, first);
      return queued;
    });
  }

  /** The `upload:<id>` snapshot: the file's current state for its own principal; null for anyone else's or before processing. */
  async snapshot(fileId: string, principal: string): Promise<{ event: string; data: ProcessingState; version: number } | null> {
    if (!UUID.test(fileId)) return null;
    const [row] = await this.#deps.db.select().from(asyncTempFile).where(eq(asyncTempFile.id, fileId));
    if (!row || row.principal !== principal) return null;
    const state = processingStateOf(row, this.#deps.registry.get(row.fieldId));
    return state ? { event: PROCESSING_EVENT, data: state, version: state.version } : null;
  }
}
