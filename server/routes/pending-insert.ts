import { sql, type SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type { Database } from "../db/database.js";
import { asyncTempFile } from "../db/schema.js";
import { pendingLimitError, type PendingLimits } from "./pending-limits.js";

/** One `async_temp_file` row to record as pending. */
export interface PendingRow {
  id: string;
  key: string;
  fieldId: string;
  instanceId: string | null;
  originalFilename: string;
  contentType: string;
  declaredSize: number;
  uploadId: string | null;
  partSize: number | null;
  expiresAt: Date;
}

/** The part of a postgres.js client this module uses: a reserved connection to pipeline on. */
interface PostgresJsClient {
  reserve(): Promise<PostgresJsReserved>;
}
interface PostgresJsReserved {
  unsafe(query: string, params?: unknown[], options?: { prepare?: boolean }): Promise<unknown[]>;
  release(): void;
}

const dialect = new PgDialect();

/**
 * Inserts `rows` (one upload, or a batch) for `principal` if, together, they keep the principal within
 * its count and bytes of unsaved uploads and everybody within the overall bytes; otherwise inserts none
 * and throws the 429 of the first limit they would go over.
 *
 * Exact under concurrency: the check and the insert are one statement, run after a transaction-scoped
 * advisory lock taken in an earlier statement of the same transaction (a statement's snapshot is taken
 * when it starts, so a lock taken inside the counting statement would count without the rows of the
 * holder it waited for). The lock is the principal's; while an overall byte bound is set it is one
 * lock for everybody, since that bound counts every principal's rows.
 *
 * On postgres.js, `begin`, lock, insert and `commit` are pipelined on one connection as prepared
 * statements: one round trip to the database, and the lock is held only while PostgreSQL runs them,
 * never across a trip back to this process. Other drivers (PGlite, node-postgres) run the same two
 * statements in a drizzle transaction.
 */
export async function insertWithinPendingLimits(
  db: Database,
  limits: PendingLimits,
  principal: string,
  rows: readonly PendingRow[],
  now: Date,
): Promise<void> {
  const overall = limits.bytes !== Infinity;
  const lock = overall
    ? sql`select pg_advisory_xact_lock(hashtext('async_temp_file.pending_bytes'))`
    : sql`select pg_advisory_xact_lock(hashtext('async_temp_file.pending'), hashtext(${principal}))`;
  const insert = checkedInsert(limits, principal, rows, now, overall);
  const client = (db as { $client?: unknown }).$client;
  const result = isPostgresJs(client) ? await pipelined(client, lock, insert) : await inTransaction(db, lock, insert);
  const [verdict] = result;
  if (!verdict || Number(verdict.inserted) === rows.length) return;
  if (!verdict.uploads_ok) throw pendingLimitError("uploads", limits);
  if (!verdict.principal_bytes_ok) throw pendingLimitError("bytesPerPrincipal", limits);
  throw pendingLimitError("bytes", limits);
}

interface Verdict {
  uploads_ok: boolean;
  principal_bytes_ok: boolean;
  inserted: number | string;
}

/**
 * Counts the principal's (and, with an overall bound, everybody's) unsaved uploads, and inserts the
 * rows only if they fit. One statement text for any number of rows (they travel as one JSON array),
 * so the prepared statement is reused (one text with an overall bound, one without: without it only the
 * principal's rows are read, through the principal/status index). Limits travel as float8 so that `Infinity` needs no special case.
 */
function checkedInsert(limits: PendingLimits, principal: string, rows: readonly PendingRow[], now: Date, overall: boolean): SQL {
  const t = asyncTempFile;
  const bytes = rows.reduce((sum, row) => sum + row.declaredSize, 0);
  const json = JSON.stringify(rows.map((row) => ({ ...row, principal, expiresAt: row.expiresAt.toISOString() })));
  const mine = sql`${t.principal} = ${principal}`;
  return sql`with totals as (
      select count(*) filter (where ${mine}) as uploads,
        coalesce(sum(${t.declaredSize}) filter (where ${mine}), 0) as principal_bytes,
        coalesce(sum(${t.declaredSize}), 0) as bytes
      from ${t}
      where ${t.status} = 'pending' and ${t.expiresAt} > ${now.toISOString()}::timestamptz
        ${overall ? sql`` : sql`and ${mine}`}
    ), verdict as (
      select uploads + ${rows.length} <= ${String(limits.uploads)}::float8 as uploads_ok,
        principal_bytes + ${bytes} <= ${String(limits.bytesPerPrincipal)}::float8 as principal_bytes_ok,
        bytes + ${bytes} <= ${String(limits.bytes)}::float8 as bytes_ok
      from totals
    ), inserted as (
      insert into ${t} (id, key, field_id, principal, instance_id, original_filename, content_type, declared_size, upload_id, part_size, expires_at)
      select r.id, r.key, r."fieldId", r.principal, r."instanceId", r."originalFilename", r."contentType", r."declaredSize", r."uploadId", r."partSize", r."expiresAt"
      from jsonb_to_recordset(${json}::text::jsonb) as r(id uuid, key text, "fieldId" text, principal text, "instanceId" text, "originalFilename" text,
        "contentType" text, "declaredSize" bigint, "uploadId" text, "partSize" bigint, "expiresAt" timestamptz),
        verdict
      where uploads_ok and principal_bytes_ok and bytes_ok
      returning 1
    )
    select uploads_ok, principal_bytes_ok, (select count(*) from inserted) as inserted from verdict`;
}

function isPostgresJs(client: unknown): client is PostgresJsClient {
  return typeof client === "function" && typeof (client as Partial<PostgresJsClient>).reserve === "function";
}

/** begin, lock, insert, commit written at once on one reserved connection; answers read in order. */
async function pipelined(client: PostgresJsClient, lock: SQL, insert: SQL): Promise<Verdict[]> {
  const connection = await client.reserve();
  try {
    const lockQuery = dialect.sqlToQuery(lock);
    const insertQuery = dialect.sqlToQuery(insert);
    // allSettled: every answer is read before the connection goes back to the pool. Should the insert
    // fail, `commit` ends the aborted transaction as a rollback.
    const [begun, locked, inserted, committed] = await Promise.allSettled([
      connection.unsafe("begin"),
      connection.unsafe(lockQuery.sql, lockQuery.params, { prepare: true }),
      connection.unsafe(insertQuery.sql, insertQuery.params, { prepare: true }),
      connection.unsafe("commit"),
    ]);
    for (const step of [begun, locked, inserted, committed]) if (step.status === "rejected") throw step.reason;
    return (inserted as PromiseFulfilledResult<unknown[]>).value as Verdict[];
  } finally {
    connection.release();
  }
}

async function inTransaction(db: Database, lock: SQL, insert: SQL): Promise<Verdict[]> {
  return db.transaction(async (tx) => {
    await tx.execute(lock);
    const result = (await tx.execute(insert)) as unknown as Verdict[] | { rows: Verdict[] };
    return Array.isArray(result) ? result : result.rows;
  });
}
