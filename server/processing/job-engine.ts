import type { PgBoss } from "pg-boss";
import type { Database } from "../db/types.js";
import { createBoss } from "./boss.js";
import type { ProcessingOptions, WorkerSettings } from "./options.js";

/** A part of the library that runs jobs on the one shared pg-boss (upload processing; exports). */
export interface JobUser {
  /** Whether it needs pg-boss at all (asked at `start()`): e.g. some field declares processing steps. */
  needed(): boolean;
  /** Creates its queues; runs on every instance, worker or not (sending needs them). */
  createQueues(boss: PgBoss): Promise<void>;
  /** Starts its workers; only on instances with `worker !== false`. */
  startWorkers(boss: PgBoss, settings: WorkerSettings): Promise<void>;
}

/**
 * The one pg-boss of a `createAsyncUploads`, started by `uploads.start()` only when a user needs it,
 * so apps without background work need neither pg-boss nor a worker.
 */
export class JobEngine {
  readonly #db: Database;
  readonly #options: ProcessingOptions;
  readonly #log: (message: string, error: unknown) => void;
  readonly #users: JobUser[] = [];
  #boss: PgBoss | null = null;
  #starting: Promise<void> | null = null;
  #closed = false;

  constructor(db: Database, options: ProcessingOptions | undefined, log: (message: string, error: unknown) => void) {
    this.#db = db;
    this.#options = options ?? {};
    this.#log = log;
    const { concurrency = 4, pollingIntervalSeconds = 2 } = this.#options;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new Error("[async-uploads] processing.concurrency must be a positive whole number");
    if (typeof pollingIntervalSeconds !== "number" || !(pollingIntervalSeconds >= 0.5)) {
      throw new Error("[async-uploads] processing.pollingIntervalSeconds must be a number of seconds, at least 0.5");
    }
  }

  /** Adds a user; before `start()`. */
  use(user: JobUser): void {
    if (this.#starting) throw new Error("[async-uploads] a job user was added after start()");
    this.#users.push(user);
  }

  /** The started pg-boss; null before `start()`, after `close()`, or when nothing needed it. */
  get boss(): PgBoss | null {
    return this.#boss;
  }

  /** Starts pg-boss (creating its schema the first time), every user's queues and, unless `worker: false`, their workers. */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("[async-uploads] start() after close()"));
    this.#starting ??= this.#start().catch((error: unknown) => {
      this.#starting = null;
      throw error;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    const users = this.#users.filter((user) => user.needed());
    if (users.length === 0) return;
    const boss = await createBoss(this.#db, this.#options);
    boss.on("error", (error) => this.#log("pg-boss reported an error", error));
    await boss.start();
    try {
      for (const user of users) await user.createQueues(boss);
      if (this.#options.worker !== false) {
        const settings = { concurrency: this.#options.concurrency ?? 4, pollingIntervalSeconds: this.#options.pollingIntervalSeconds ?? 2 };
        for (const user of users) await user.startWorkers(boss, settings);
      }
    } catch (error) {
      await boss.stop({ graceful: false, close: true }).catch(() => {});
      throw error;
    }
    this.#boss = boss;
  }

  /** Stops the workers (waiting up to 10 s for running jobs; the rest are retried by another worker later) and pg-boss. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#starting?.catch(() => {});
    const boss = this.#boss;
    this.#boss = null;
    await boss?.stop({ graceful: true, timeout: 10_000, close: true });
  }
}
