import { and, asc, sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/database.js";
import { asyncTempFile, TEMP_FILE_STATUSES } from "../db/schema.js";
import type { CleanupRow } from "./remove-row.js";

/*
 * The statements each cleanup batch runs. The claim and the DELETE are drizzle prepared queries:
 * drizzle sends any other query with parameters unnamed, and postgres.js then waits for the
 * statement's description before it can bind, two round trips where a prepared statement (described
 * once per connection) takes one. Claims take turns, so the claim's round trips bound the whole run's
 * pace when the database is slow to answer. Every value that varies is a parameter, lists included
 * (one array literal each), so the statements' text never changes.
 */

/** Where the keyset starts: before any row. */
export const KEYSET_START = { createdAt: "-infinity", id: "00000000-0000-0000-0000-000000000000" } as const;

export interface ClaimValues {
  /** Rows created before this instant (ISO) are eligible. */
  cutoff: string;
  /** Fields in scope, or null for every field. */
  fieldIds: readonly string[] | null;
  /** Fields whose storage is down: their rows are left alone. */
  downFields: readonly string[];
  /** The last row of the previous batch (`KEYSET_START` at first). */
  after: { createdAt: string; id: string };
  limit: number;
}

type ClaimParams = { cutoff: string; fieldIds: string | null; downFields: string; afterCreatedAt: string; afterId: string; limit: number };

/**
 * Run first in each batch's transaction, in one statement. The commit does not wait for the WAL to
 * reach the disk (a flush per batch: 3.9 ms median, 15 ms p90 on the bench machine, against 0.2 ms).
 * What a database crash can lose is the last batches' row deletions, never an object: those rows come
 * back with their objects already gone, and the next run removes them (an object already gone counts
 * as deleted).
 *
 * And the claim is planned for its values each time, as an unnamed statement is: after five runs
 * PostgreSQL may switch a prepared statement to one plan for any values, and for the claim that plan
 * (chosen on the bench, whose table is not analyzed yet) reads every eligible row through the
 * (status, created_at) index and sorts them, 14–35 ms a claim at 10,000 rows, where the plan for the
 * values reads the next 100 from the (created_at, id) index in 0.2 ms. Planning costs about 0.4 ms.
 */
export async function relaxBatch(tx: Database): Promise<void> {
  await tx.execute(sql`select set_config('synchronous_commit', 'off', true), set_config('plan_cache_mode', 'force_custom_plan', true)`);
}

/**
 * Claims (locks) the next batch in the batch's transaction, after `relaxBatch`. A dry run takes no
 * locks, so it never makes a save wait, and runs outside a transaction, where no plan per claim can
 * be asked for: its claim stays unnamed, planned for its values each time.
 */
export function claimBatch(db: Database, lock: boolean, values: ClaimValues): Promise<CleanupRow[]> {
  const params: ClaimParams = {
    cutoff: values.cutoff,
    fieldIds: values.fieldIds ? textArray(values.fieldIds) : null,
    downFields: textArray(values.downFields),
    afterCreatedAt: values.after.createdAt,
    afterId: values.after.id,
    limit: values.limit,
  };
  if (!lock) return claimSelect(db, (name) => params[name]);
  return claimSelect(db, (name) => sql.placeholder(name))
    .for("update", { skipLocked: true })
    .prepare("async_uploads_cleanup_claim")
    .execute(params);
}

/** The claim's SELECT, its values given by `value` (placeholders, or the values themselves). */
function claimSelect(db: Database, value: (name: keyof ClaimParams) => unknown) {
  const { createdAt, id, fieldId, status } = asyncTempFile;
  const statuses: SQL[] = TEMP_FILE_STATUSES.map((name) => sql.raw(`'${name}'`));
  return db
    .select({
      id, key: asyncTempFile.key, fieldId, status, committedKey: asyncTempFile.committedKey, uploadId: asyncTempFile.uploadId,
      partSize: asyncTempFile.partSize, declaredSize: asyncTempFile.declaredSize,
      // Exact (microsecond) text: a JS Date would truncate it and make the keyset revisit rows.
      cursor: sql<string>`${createdAt}::text`,
    })
    .from(asyncTempFile)
    .where(and(
      sql`${status} in (${sql.join(statuses, sql`, `)})`,
      // Plain casts, not `::text::timestamptz`: the planner estimates a range only from constants of
      // the column's type, and misjudged, the claim sorts every eligible row (see `relaxBatch`).
      sql`${createdAt} < ${value("cutoff")}::timestamptz`,
      sql`(${value("fieldIds")}::text[] is null or ${fieldId} = any(${value("fieldIds")}::text[]))`,
      sql`${fieldId} <> all(${value("downFields")}::text[])`,
      sql`(${createdAt}, ${id}) > (${value("afterCreatedAt")}::timestamptz, ${value("afterId")}::uuid)`,
    ))
    .orderBy(asc(createdAt), asc(id))
    .limit(value("limit") as number);
}

/** Deletes the rows with these ids: one statement and one parameter for the whole batch. */
export async function deleteRows(tx: Database, ids: readonly string[]): Promise<void> {
  await tx
    .delete(asyncTempFile)
    .where(sql`${asyncTempFile.id} = any(${sql.placeholder("ids")}::uuid[])`)
    .prepare("async_uploads_cleanup_delete")
    .execute({ ids: textArray(ids) });
}

/** A PostgreSQL array literal of these strings, each quoted (so commas, braces and spaces stay inside). */
export function textArray(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/[\\"]/g, "\\$&")}"`).join(",")}}`;
}
