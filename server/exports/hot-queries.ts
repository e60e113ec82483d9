import { and, eq, sql } from "drizzle-orm";
import { asyncExport, type AsyncExport } from "../db/export-schema.js";
import type { Database } from "../db/types.js";

/**
 * The two statements every export runs, prepared once per worker: building a drizzle query costs
 * about as much CPU as the rest of a small export's bookkeeping, and a backlog runs them thousands of
 * times. Each is one guarded UPDATE (version + 1) returning the row, or nothing when the guard fails.
 */
export interface HotQueries {
  /** queued (for this attempt) → running with this attempt's key. */
  claim(values: { id: string; attempt: number; key: string; startedAt: Date }): Promise<AsyncExport | undefined>;
  /** running (with this key) → succeeded. */
  succeed(values: { id: string; key: string; size: number; finishedAt: Date; expiresAt: Date }): Promise<AsyncExport | undefined>;
}

export function prepareHotQueries(db: Database): HotQueries {
  const placeholder = (name: string) => sql`${sql.placeholder(name)}`;
  const claim = db
    .update(asyncExport)
    .set({ status: "running", key: placeholder("key"), percentage: null, message: null, startedAt: sql`${sql.placeholder("startedAt")}::timestamptz`, version: sql`${asyncExport.version} + 1` })
    .where(and(eq(asyncExport.id, sql.placeholder("id")), eq(asyncExport.status, "queued"), eq(asyncExport.attempt, sql.placeholder("attempt"))))
    .returning()
    .prepare("async_export_claim");
  const succeed = db
    .update(asyncExport)
    .set({
      status: "succeeded",
      percentage: 100,
      size: sql`${sql.placeholder("size")}::bigint`,
      finishedAt: sql`${sql.placeholder("finishedAt")}::timestamptz`,
      expiresAt: sql`${sql.placeholder("expiresAt")}::timestamptz`,
      version: sql`${asyncExport.version} + 1`,
    })
    .where(and(eq(asyncExport.id, sql.placeholder("id")), eq(asyncExport.status, "running"), eq(asyncExport.key, sql.placeholder("key"))))
    .returning()
    .prepare("async_export_succeed");
  return {
    claim: async ({ startedAt, ...values }) => (await claim.execute({ ...values, startedAt: startedAt.toISOString() }))[0],
    succeed: async ({ finishedAt, expiresAt, ...values }) =>
      (await succeed.execute({ ...values, finishedAt: finishedAt.toISOString(), expiresAt: expiresAt.toISOString() }))[0],
  };
}
