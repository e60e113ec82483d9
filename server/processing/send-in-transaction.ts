import { sql } from "drizzle-orm";
import type { PgBoss, SendOptions } from "pg-boss";
import type { Database } from "../db/types.js";

/**
 * Sends a job inside the caller's drizzle transaction (`fromDrizzle(tx, sql)`): the job exists exactly
 * when the change written in `tx` commits, so a rolled-back request leaves no job. Every job of ours is
 * retried with the same backoff (1 s, doubling, at most a minute) up to its own `retryLimit`.
 */
export async function sendInTransaction<T extends object>(
  boss: PgBoss,
  tx: Database,
  queue: string,
  data: T,
  options: { retryLimit: number; expireInSeconds: number; deadLetter: string } & Pick<SendOptions, "heartbeatSeconds">,
): Promise<void> {
  const { fromDrizzle } = await import("pg-boss");
  await boss.send(queue, data, {
    db: fromDrizzle(tx as unknown as Parameters<typeof fromDrizzle>[0], sql),
    retryDelay: 1,
    retryBackoff: true,
    retryDelayMax: 60,
    ...options,
  });
}
