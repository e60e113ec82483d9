import { eq } from "drizzle-orm";
import type { PgBoss } from "pg-boss";
import { PROCESSING_EVENT, uploadTopic, type ProcessingState, type UploadProcessingPlan } from "../../shared/processing.js";
import type { Database } from "../db/types.js";
import { asyncTempFile } from "../db/schema.js";
import { AsyncUploadsError } from "../errors.js";
import type { Field, FieldRegistry } from "../registry.js";
import { createBoss, type BossConnectionOptions } from "./boss.js";
import { createQueues, sendStepJob } from "./jobs.js";
import { changeState, lockProcessingRow, processingStateOf } from "./state.js";
import { plannedSteps } from "./steps.js";
import type { Publish } from "./types.js";
import { plannedStepsOf, startWorker } from "./worker.js";

/** `createAsyncUploads({ processing })`: where and how processing jobs run. */
export interface ProcessingOptions extends BossConnectionOptions {
  /** Run the step worker in this process; `false` for web-only instances (another process runs `start()` with a worker). @default true */
  worker?: boolean;
  /** Step jobs this process runs at once; a hung step holds one slot until its timeout. @default 4 */
  concurrency?: number;
  /** How often an idle worker polls when no NOTIFY woke it, in seconds (≥ 0.5). @default 2 */
  pollingIntervalSeconds?: number;
}

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
  now: () => Date;
  log: (message: string, error: unknown) => void;
  options?: ProcessingOptions;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Upload processing of one `createAsyncUploads`: pg-boss and the worker (`start`/`close`), the
 * `POST process` request, the plan in `upload-url`'s answer and the `upload:<id>` snapshot.
 */
export class UploadProcessing {
  readonly #deps: UploadProcessingDeps;
  readonly #publish: Publish;
  #boss: PgBoss | null = null;
  #starting: Promise<void> | null = null;
  #closed = false;

  constructor(deps: UploadProcessingDeps) {
    this.#deps = deps;
    this.#publish = (topic, event, data, options) => deps.live.publish(topic, event, data, options);
    const { concurrency = 4, pollingIntervalSeconds = 2 } = deps.options ?? {};
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new Error("[async-uploads] processing.concurrency must be a positive whole number");
    if (!(pollingIntervalSeconds >= 0.5)) throw new Error("[async-uploads] processing.pollingIntervalSeconds must be at least 0.5");
    deps.live.registerSnapshot("upload", (id, principal) => this.snapshot(id, principal));
  }

  /**
   * Starts pg-boss (creating its schema and our queues the first time) and, unless `worker: false`,
   * the worker. Does nothing when no field declares processing steps: such apps need no pg-boss.
   */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("[async-uploads] start() after close()"));
    this.#starting ??= this.#start().catch((error: unknown) => {
      this.#starting = null;
      throw error;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    if (!this.#deps.registry.hasProcessing()) return;
    const options = this.#deps.options ?? {};
    const boss = await createBoss(this.#deps.db, options);
    boss.on("error", (error) => this.#deps.log("pg-boss reported an error", error));
    await boss.start();
    try {
      await createQueues(boss);
      if (options.worker !== false) {
        const workerDeps = { db: this.#deps.db, registry: this.#deps.registry, publish: this.#publish, log: this.#deps.log };
        await startWorker(workerDeps, boss, { concurrency: options.concurrency ?? 4, pollingIntervalSeconds: options.pollingIntervalSeconds ?? 2 });
      }
    } catch (error) {
      await boss.stop({ graceful: false, close: true }).catch(() => {});
      throw error;
    }
    this.#boss = boss;
  }

  /** Stops the worker (running steps are aborted and retried later by whichever worker is up) and pg-boss. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#starting?.catch(() => {});
    const boss = this.#boss;
    this.#boss = null;
    await boss?.stop({ graceful: true, timeout: 10_000, close: true });
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
    const boss = this.#boss;
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
      if (first) await sendStepJob(boss, tx, { fileId: row.id, step: 0, version: queued.version }, first);
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
