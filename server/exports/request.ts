import { createHash, randomUUID } from "node:crypto";
import { and, count, eq, inArray, sql } from "drizzle-orm";
import type { PgBoss } from "pg-boss";
import type { ExportSummary } from "../../shared/exports.js";
import { safeFilename } from "../../shared/filename.js";
import { asyncExport } from "../db/export-schema.js";
import type { Database } from "../db/types.js";
import { AsyncUploadsError } from "../errors.js";
import { BytePipe } from "./byte-pipe.js";
import { sendExportJob } from "./jobs.js";
import { publishRow, summaryOf, type Publish } from "./state.js";
import { ExportCriteriaError, type ResolvedExport } from "./types.js";

/** A request whose criteria passed the app's `criteria()`. */
export interface CheckedRequest {
  definition: ResolvedExport;
  principal: string;
  /** The input as JSON (what the worker parses again). */
  input: unknown;
  criteria: unknown;
  criteriaHash: string;
  filename: string;
}

/**
 * Checks a request the way `POST {base}/exports` must before anything is written: the type exists
 * (404 `unknown_export`), this principal may ask (403), the criteria pass the app's validation (400
 * `invalid_criteria`, with the app's message when it threw `ExportCriteriaError`).
 */
export async function checkRequest(definition: ResolvedExport | undefined, input: unknown, principal: string, log: (message: string, error: unknown) => void): Promise<CheckedRequest> {
  if (!definition) throw new AsyncUploadsError("unknown_export", "There is no such export.");
  if (!(await definition.canRequest({ principal }))) throw new AsyncUploadsError("forbidden", "You may not request this export.");
  let json: unknown;
  let text: string;
  try {
    text = JSON.stringify(input ?? null);
    json = JSON.parse(text) as unknown;
  } catch {
    throw new AsyncUploadsError("invalid_criteria", "The export's criteria must be JSON.");
  }
  // jsonb refuses NUL and lone surrogates (JSON.stringify escapes exactly those as \u0000, \udXXX):
  // the insert would fail with a server error, so they are refused here like any other bad input.
  if (UNSTORABLE_ESCAPE.test(text)) {
    throw new AsyncUploadsError("invalid_criteria", "The export's criteria contain characters that cannot be stored (NUL or a lone surrogate).");
  }
  let criteria: unknown;
  try {
    criteria = definition.criteria(json);
  } catch (error) {
    if (!(error instanceof ExportCriteriaError)) log(`criteria() of export "${definition.id}" threw something other than ExportCriteriaError`, error);
    throw new AsyncUploadsError("invalid_criteria", error instanceof ExportCriteriaError ? error.message : "The export's criteria are not valid.");
  }
  return { definition, principal, input: json, criteria, criteriaHash: hashCriteria(criteria, json), filename: safeFilename(definition.filename(criteria)) };
}

/** An escape of NUL or a UTF-16 surrogate in JSON text, not itself after an escaped backslash. */
const UNSTORABLE_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/** sha256 of the parsed criteria as canonical JSON (keys sorted), so equal criteria written differently are one export. */
export function hashCriteria(criteria: unknown, fallback: unknown): string {
  let value: unknown;
  try {
    value = JSON.parse(JSON.stringify(criteria ?? null)) as unknown;
  } catch {
    value = fallback;
  }
  return createHash("sha256").update(canonicalJson(value)).digest("base64url");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * Serialises one principal's requests, retries and their checks (dedupe, the concurrency bound) for
 * the rest of `tx`, on every instance: a PostgreSQL transaction-level advisory lock on the principal.
 */
export async function lockPrincipal(tx: Database, principal: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`async_export:${principal}`}, 0))`);
}

/** The principal's queued or running export identical to this one, if any. */
export async function findActiveTwin(tx: Database, principal: string, exportId: string, criteriaHash: string) {
  const [row] = await tx
    .select()
    .from(asyncExport)
    .where(and(eq(asyncExport.principal, principal), eq(asyncExport.exportId, exportId), eq(asyncExport.criteriaHash, criteriaHash), inArray(asyncExport.status, ["queued", "running"])));
  return row;
}

/** Refuses (429) when the principal already has `limit` queued or running exports. */
export async function checkConcurrency(tx: Database, principal: string, limit: number): Promise<void> {
  const [row] = await tx.select({ active: count() }).from(asyncExport).where(and(eq(asyncExport.principal, principal), inArray(asyncExport.status, ["queued", "running"])));
  if ((row?.active ?? 0) >= limit) {
    throw new AsyncUploadsError("too_many_exports", `You have ${limit} exports being built already; wait for one to finish or cancel one.`);
  }
}

/**
 * Queues a checked request in `tx`: the principal's identical queued/running export if there is one
 * (no second job), else a new row and its job, both committed or neither, and the event on commit.
 */
export async function queueExport(tx: Database, boss: PgBoss, publish: Publish, request: CheckedRequest, now: Date): Promise<ExportSummary> {
  const { definition, principal } = request;
  await lockPrincipal(tx, principal);
  const twin = await findActiveTwin(tx, principal, definition.id, request.criteriaHash);
  if (twin) return summaryOf(twin);
  await checkConcurrency(tx, principal, definition.maxConcurrentPerPrincipal);
  const [row] = await tx
    .insert(asyncExport)
    .values({
      id: randomUUID(),
      exportId: definition.id,
      principal,
      criteria: request.input,
      criteriaHash: request.criteriaHash,
      filename: request.filename,
      contentType: definition.contentType,
      status: "queued",
      createdAt: now,
      version: 1,
      attempt: 1,
    })
    .returning();
  if (!row) throw new Error("[async-uploads] the export row was not written");
  await sendExportJob(boss, tx, { id: row.id, attempt: row.attempt }, definition);
  return publishRow(publish, tx, row);
}

/**
 * Builds an export in the response: the app's `write` streams into the returned body as the client
 * reads it (bounded memory), and stops (its signal aborts) when the client goes away.
 */
export function streamNow(request: CheckedRequest, log: (message: string, error: unknown) => void): ReadableStream<Uint8Array> {
  const pipe = new BytePipe();
  const controller = new AbortController();
  void Promise.resolve()
    .then(() =>
      request.definition.write({ criteria: request.criteria, principal: request.principal, output: pipe.output, progress: () => {}, signal: controller.signal }),
    )
    .then(
      () => pipe.end(),
      (error: unknown) => {
        if (!controller.signal.aborted) log(`export "${request.definition.id}" served at once failed while streaming`, error);
        pipe.fail(error);
      },
    );
  const iterator = pipe[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(stream) {
      const { value, done } = await iterator.next();
      if (done) stream.close();
      else stream.enqueue(value);
    },
    async cancel() {
      controller.abort(new Error("the client went away"));
      await iterator.return?.();
    },
  });
}
