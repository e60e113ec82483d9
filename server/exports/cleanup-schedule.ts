import type { PgBoss } from "pg-boss";
import type { ExpiredExportsSummary } from "./cleanup-expired-exports.js";

/** The queue of the scheduled expired-export cleanup (one job per cron tick, whatever the number of instances). */
export const EXPORT_CLEANUP_QUEUE = "async-uploads.export-cleanup";
/** Every 10 minutes. */
export const DEFAULT_EXPORT_CLEANUP_CRON = "*/10 * * * *";
/** A scheduled run stops between batches after this long; the next tick goes on. */
const RUN_LIMIT_MS = 5 * 60_000;

/**
 * Schedules the expired-export cleanup on pg-boss's cron (`boss.schedule`: pg-boss makes one job per
 * tick across all instances, so no system cron is needed), or removes the schedule when `cron` is
 * false. Called with the queues on every instance; the last writer's cron wins, as pg-boss keeps one
 * schedule per queue.
 */
export async function scheduleExportCleanup(boss: PgBoss, cron: string | false): Promise<void> {
  await boss.createQueue(EXPORT_CLEANUP_QUEUE, { retryLimit: 0, expireInSeconds: RUN_LIMIT_MS / 1000 + 60, notify: true });
  // https://timgit.github.io/pg-boss/#/api/scheduling
  if (cron === false) await boss.unschedule(EXPORT_CLEANUP_QUEUE);
  else await boss.schedule(EXPORT_CLEANUP_QUEUE, cron, null, { tz: "UTC" });
}

/** Runs the cleanup for each tick's job (instances with workers). Concurrent runs are safe; see cleanupExpiredExports. */
export async function startExportCleanupWorker(
  boss: PgBoss,
  run: (options: { maxDurationMs: number }) => Promise<ExpiredExportsSummary>,
  log: (message: string, error: unknown) => void,
): Promise<void> {
  await boss.work(EXPORT_CLEANUP_QUEUE, { pollingIntervalSeconds: 30 }, async () => {
    const summary = await run({ maxDurationMs: RUN_LIMIT_MS });
    if (summary.failed > 0) log(`cleanup-expired-exports: ${summary.failed} file(s) could not be deleted; the next run tries again`, null);
  });
}
