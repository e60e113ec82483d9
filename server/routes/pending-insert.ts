import { sql } from "drizzle-orm";
import type { Database } from "../db/database.js";
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

/** The part of a postgres.js client this module uses. */
interface PostgresJsClient {
  unsafe(query: string, params?: unknown[], options?: { prepare?: boolean }): Promise<unknown[]>;
}

interface Verdict {
  uploads_ok: boolean;
  principal_bytes_ok: boolean;
  inserted: number | string;
}

/**
 * The one statement that counts and inserts: `async_uploads_insert_pending` (drizzle/0005), which takes
 * the principal's advisory lock (everybody's, while an overall byte bound is set), counts in a snapshot
 * taken after the lock, and inserts only if the rows fit. Rows travel as one JSON array, so the text is
 * the same for any number of rows and the prepared statement is reused; limits travel as float8, so
 * that `Infinity` needs no special case.
 */
const CALL = `select uploads_ok, principal_bytes_ok, inserted from async_uploads_insert_pending($1::text, $2::text::jsonb, $3::float8, $4::timestamptz, $5::float8, $6::float8, $7::float8)`;

/**
 * Inserts `rows` (one upload, or a batch) for `principal` if, together, they keep the principal within
 * its count and bytes of unsaved uploads and everybody within the overall bytes; otherwise inserts none
 * and throws the 429 of the first limit they would go over.
 *
 * Exact under concurrency (see the function's comment in drizzle/0005), and a single autocommit
 * statement: no connection is reserved for a transaction, so on postgres.js the statements of
 * concurrent requests pipeline on the pool's connections, and the lock is held only while PostgreSQL
 * runs the function. Other drivers (PGlite, node-postgres) run the same statement through drizzle.
 */
export async function insertWithinPendingLimits(
  db: Database,
  limits: PendingLimits,
  principal: string,
  rows: readonly PendingRow[],
  now: Date,
): Promise<void> {
  const bytes = rows.reduce((sum, row) => sum + row.declaredSize, 0);
  const params = [
    principal,
    JSON.stringify(rows),
    String(bytes),
    now.toISOString(),
    String(limits.uploads),
    String(limits.bytesPerPrincipal),
    String(limits.bytes),
  ];
  const client = (db as { $client?: unknown }).$client;
  const [verdict] = isPostgresJs(client) ? ((await client.unsafe(CALL, params, { prepare: true })) as Verdict[]) : await throughDrizzle(db, params);
  if (!verdict || Number(verdict.inserted) === rows.length) return;
  if (!verdict.uploads_ok) throw pendingLimitError("uploads", limits);
  if (!verdict.principal_bytes_ok) throw pendingLimitError("bytesPerPrincipal", limits);
  throw pendingLimitError("bytes", limits);
}

function isPostgresJs(client: unknown): client is PostgresJsClient {
  return typeof client === "function" && typeof (client as Partial<PostgresJsClient>).unsafe === "function";
}

async function throughDrizzle(db: Database, params: string[]): Promise<Verdict[]> {
  const [principal, json, bytes, now, uploads, bytesPerPrincipal, allBytes] = params;
  const result = (await db.execute(
    sql`select uploads_ok, principal_bytes_ok, inserted from async_uploads_insert_pending(${principal}::text, ${json}::text::jsonb, ${bytes}::float8, ${now}::timestamptz, ${uploads}::float8, ${bytesPerPrincipal}::float8, ${allBytes}::float8)`,
  )) as unknown as Verdict[] | { rows: Verdict[] };
  return Array.isArray(result) ? result : result.rows;
}
