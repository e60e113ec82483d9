import { eq } from "drizzle-orm";
import type { Job, PgBoss } from "pg-boss";
import { EXPORT_FAILED_MESSAGE, isActiveExportStatus } from "../../shared/exports.js";
import { asyncExport, type AsyncExport } from "../db/export-schema.js";
import type { Database } from "../db/types.js";
import type { LiveHub } from "../live/hub.js";
import { BytePipe } from "./byte-pipe.js";
import { watchCancellation } from "./cancel-watch.js";
import { EXPORT_QUEUE, FAILED_EXPORT_QUEUE, type ExportJob } from "./jobs.js";
import type { HotQueries } from "./hot-queries.js";
import { ProgressReporter } from "./progress.js";
import type { ExportRegistry } from "./registry.js";
import { changeExport, changeExportIf, lockExport, publishCommitted, summaryOf, type Publish, type PublishMany } from "./state.js";
import { writeExportObject } from "./storage-write.js";
import type { ExportSummary } from "../../shared/exports.js";
import type { ResolvedExport } from "./types.js";

/** What the export worker needs. */
export interface ExportWorkerDeps {
  db: Database;
  registry: ExportRegistry;
  publish: Publish;
  hub: LiveHub | null;
  now: () => Date;
  log: (message: string, error: unknown) => void;
  /** Storage key prefix of export files. */
  prefix: string;
  /** The hot path's events (claim, success) in one statement each. */
  publishMany?: PublishMany;
  /** The hot path's prepared statements (claim, success). */
  hot: HotQueries;
  /** Called after an export succeeded (the links and the app's `onReady`). */
  ready: (definition: ResolvedExport, summary: ExportSummary, principal: string) => Promise<void>;
}

/** Whether a job still speaks for the row: same attempt, and the export queued or running. */
function jobOwnsRow(row: AsyncExport | undefined, job: ExportJob): row is AsyncExport {
  return row !== undefined && row.attempt === job.attempt && isActiveExportStatus(row.status);
}

/** What became of one attempt: `retry` hands the job back to pg-boss (which retries it after its backoff). */
type Outcome = "done" | "retry";

/**
 * Builds one attempt of one export: marks it running with this attempt's own key (one transaction,
 * one event), streams the app's `write` into the storage outside any transaction, then records the
 * outcome if the row is still this attempt's. A cancelled, cleared or taken-over export aborts the
 * writer's signal; its object is removed. A throw (the writer's or the storage's) is retried until
 * the definition's `retryLimit`, then the export fails with a safe message; the object never stays.
 */
export async function runExportJob(deps: ExportWorkerDeps, job: Job<ExportJob>): Promise<Outcome> {
  const claimed = await claim(deps, job);
  if (!claimed) return "done";
  const { row, definition, key, previousKey } = claimed;
  // An earlier attempt whose worker died may have left its object (a fresh key per attempt keeps them apart).
  if (previousKey && previousKey !== key) await removeObject(deps, definition, previousKey);

  const controller = new AbortController();
  const onJobAbort = () => controller.abort(new Error(`export ${row.id}: the job was stopped (timeout or shutdown)`));
  job.signal.addEventListener("abort", onJobAbort, { once: true });
  let gone = false;
  const goneNow = (why: string) => {
    gone = true;
    controller.abort(new Error(why));
  };
  const stopWatching = watchCancellation({ db: deps.db, hub: deps.hub, id: row.id, key, version: row.version, log: deps.log }, goneNow);
  const progress = new ProgressReporter({ db: deps.db, publish: deps.publish, id: row.id, key, log: deps.log, onGone: () => goneNow(`export ${row.id} is no longer running`) });
  const result = await build(definition, row, key, controller.signal, progress.report, deps).finally(async () => {
    stopWatching();
    job.signal.removeEventListener("abort", onJobAbort);
    await progress.stop();
  });

  if (result.ok && !gone) {
    const finishedAt = deps.now();
    const expiresAt = new Date(finishedAt.getTime() + definition.lifetimeSeconds * 1000);
    // Only while the row is still this attempt's (not cancelled, cleared or taken over meanwhile).
    const succeeded = await deps.hot.succeed({ id: row.id, key, size: result.size, finishedAt, expiresAt });
    if (succeeded) {
      await publishCommitted(deps.publish, succeeded, deps.publishMany);
      await deps.ready(definition, summaryOf(succeeded), row.principal).catch((error: unknown) => deps.log(`onReady of export ${row.id} failed`, error));
      return "done";
    }
    await removeObject(deps, definition, key);
    return "done";
  }
  await removeObject(deps, definition, key);
  if (gone) return "done";
  const error = result.ok ? null : result.error;
  const last = job.retryCount >= definition.retryLimit;
  deps.log(`export ${row.id} ("${row.exportId}") failed (attempt ${job.retryCount + 1} of ${definition.retryLimit + 1})`, error);
  await deps.db.transaction(async (tx) => {
    const current = await lockExport(tx, row.id);
    if (!current || current.status !== "running" || current.key !== key) return;
    const change = last
      ? ({ status: "failed", message: EXPORT_FAILED_MESSAGE, key: null, percentage: null, finishedAt: deps.now() } as const)
      : ({ status: "queued", key: null, percentage: null } as const);
    await changeExport(tx, deps.publish, current, change);
  });
  return last ? "done" : "retry";
}

/**
 * Marks the export running with this attempt's own key. The usual case, a queued export, is one
 * guarded UPDATE; an export already `running` (its earlier attempt's worker died, or pg-boss retried
 * a job whose worker missed heartbeats) takes the locking path, which also reports the earlier key.
 */
async function claim(deps: ExportWorkerDeps, job: Job<ExportJob>) {
  const key = `${deps.prefix}${job.data.id}/${job.data.attempt}.${job.retryCount}`;
  const running = await deps.hot.claim({ id: job.data.id, attempt: job.data.attempt, key, startedAt: deps.now() });
  if (running) {
    await publishCommitted(deps.publish, running, deps.publishMany);
    const definition = deps.registry.get(running.exportId);
    if (definition) return { row: running, definition, key, previousKey: null };
    deps.log(`export ${running.id} is of type "${running.exportId}", which this process does not register; it failed`, null);
    await changeExportIf(deps.db, deps.publish, running.id, eq(asyncExport.key, key), { status: "failed", message: EXPORT_FAILED_MESSAGE, key: null, finishedAt: deps.now() });
    return null;
  }
  return deps.db.transaction(async (tx) => {
    const row = await lockExport(tx, job.data.id);
    if (!jobOwnsRow(row, job.data)) return null;
    const resolved = deps.registry.get(row.exportId);
    if (!resolved) {
      deps.log(`export ${row.id} is of type "${row.exportId}", which this process does not register; it failed`, null);
      await changeExport(tx, deps.publish, row, { status: "failed", message: EXPORT_FAILED_MESSAGE, key: null, finishedAt: deps.now() });
      return null;
    }
    const running = await changeExport(tx, deps.publish, row, { status: "running", key, percentage: null, message: null, startedAt: deps.now() });
    return { row: running, definition: resolved, key, previousKey: row.key };
  });
}

/** Runs the app's `write` into the storage; both sides stop when either fails. */
async function build(
  definition: ResolvedExport,
  row: AsyncExport,
  key: string,
  signal: AbortSignal,
  progress: (done: number, total?: number) => void,
  deps: ExportWorkerDeps,
): Promise<{ ok: true; size: number } | { ok: false; error: unknown }> {
  const pipe = new BytePipe();
  const onAbort = () => pipe.fail(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const criteria = definition.criteria(row.criteria);
    const stored = writeExportObject(definition.storage, key, pipe, { contentType: definition.contentType, signal }).catch((error: unknown) => {
      pipe.fail(error);
      throw error;
    });
    const written = Promise.resolve()
      .then(() => definition.write({ criteria, principal: row.principal, output: pipe.output, progress, signal }))
      .then(
        () => pipe.end(),
        (error: unknown) => {
          pipe.fail(error);
          throw error;
        },
      );
    const [wrote, store] = await Promise.allSettled([written, stored]);
    if (wrote.status === "rejected") return { ok: false, error: wrote.reason };
    if (store.status === "rejected") return { ok: false, error: store.reason };
    if (signal.aborted) return { ok: false, error: signal.reason };
    return { ok: true, size: store.value.size };
  } catch (error) {
    deps.log(`export ${row.id}: the stored criteria no longer pass criteria()`, error);
    return { ok: false, error };
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

async function removeObject(deps: ExportWorkerDeps, definition: ResolvedExport, key: string): Promise<void> {
  await definition.storage.delete(key).catch((error: unknown) => deps.log(`could not delete export object ${key}; cleanup-expired-exports will`, error));
}

/** An export job whose retries are spent without a verdict (each worker died or hung): the export failed. */
export async function handleDeadExportJob(deps: ExportWorkerDeps, job: ExportJob): Promise<void> {
  const removed = await deps.db.transaction(async (tx) => {
    const row = await lockExport(tx, job.id);
    if (!jobOwnsRow(row, job)) return null;
    await changeExport(tx, deps.publish, row, { status: "failed", message: EXPORT_FAILED_MESSAGE, key: null, percentage: null, finishedAt: deps.now() });
    return row.key ? { key: row.key, definition: deps.registry.get(row.exportId) } : null;
  });
  if (removed?.definition) await removeObject(deps, removed.definition, removed.key);
}

/** Options of the export worker. */
export interface ExportWorkerOptions {
  /** Fetch loops of this process. */
  concurrency: number;
  /** Jobs one loop fetches and builds at once. */
  batchSize: number;
  pollingIntervalSeconds: number;
}

/**
 * Starts the export worker on `boss`: `concurrency` fetch loops, each taking up to `batchSize` jobs
 * at once and building them side by side, so at most `concurrency × batchSize` exports run in this
 * process. While fetches come back full a loop fetches again at once (pg-boss's `burstWhenBatchFull`):
 * a backlog drains without waiting a polling interval per job, which is what makes pg-boss's defaults
 * (one job per fetch, then a pause) slow for many small jobs. A loop takes new work once every export
 * of its batch ended, so a long export holds one loop, never the queue. Returns the worker ids.
 */
export async function startExportWorker(deps: ExportWorkerDeps, boss: PgBoss, options: ExportWorkerOptions): Promise<string[]> {
  const polling = { pollingIntervalSeconds: options.pollingIntervalSeconds, notifyPollingIntervalSeconds: Math.max(5, options.pollingIntervalSeconds) };
  const exportsWorker = await boss.work<ExportJob>(
    EXPORT_QUEUE,
    { ...polling, batchSize: options.batchSize, burstWhenBatchFull: true, localConcurrency: options.concurrency, perJobResults: true },
    async (jobs) =>
      Promise.all(
        jobs.map(async (job) => {
          const outcome = await runExportJob(deps, job).catch((error: unknown) => {
            deps.log(`export job ${job.id} failed`, error);
            return "retry" as const;
          });
          return { id: job.id, status: outcome === "done" ? ("completed" as const) : ("failed" as const) };
        }),
      ),
  );
  const dead = await boss.work<ExportJob>(FAILED_EXPORT_QUEUE, { ...polling, batchSize: 10 }, async (jobs) => {
    for (const job of jobs) await handleDeadExportJob(deps, job.data);
  });
  return [exportsWorker, dead];
}
