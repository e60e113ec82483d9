import { and, desc, eq } from "drizzle-orm";
import type { PgBoss } from "pg-boss";
import { EXPORT_EVENT, exportTopic, type ExportSummary } from "../../shared/exports.js";
import { asyncExport, type AsyncExport } from "../db/export-schema.js";
import type { Database } from "../db/types.js";
import { AsyncUploadsError } from "../errors.js";
import type { LiveServer } from "../live/live-channel.js";
import type { JobEngine } from "../processing/job-engine.js";
import type { StorageDriver, UrlContext } from "../storage/types.js";
import { createExportQueues } from "./jobs.js";
import type { LiveMessage } from "../live/fanout.js";
import { cleanupExpiredExports, type ExpiredExportsOptions, type ExpiredExportsSummary } from "./cleanup-expired-exports.js";
import { DEFAULT_EXPORT_CLEANUP_CRON, scheduleExportCleanup, startExportCleanupWorker } from "./cleanup-schedule.js";
import { signExportLink, verifyExportLink } from "./links.js";
import { cancelExport, clearExport, retryExport } from "./manage.js";
import { prepareHotQueries } from "./hot-queries.js";
import { ExportRegistry } from "./registry.js";
import { checkRequest, queueExport, streamNow } from "./request.js";
import { summaryOf, type Publish } from "./state.js";
import type { AsyncUploadsExports, ExportDefinition, ExportRequest, ExportRequestResult, ExportsOptions, ResolvedExport } from "./types.js";
import { startExportWorker } from "./worker.js";

/** Storage keys of export files: `async-exports/<id>/<attempt>.<retry>` (never chosen by a request). */
export const EXPORT_KEY_PREFIX = "async-exports/";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The field id that download tokens of export files carry: no registered field can have it (fields never hold "@" or "/"). */
export function exportFieldId(exportId: string): string {
  return `${EXPORT_FIELD_PREFIX}${exportId}`;
}

const EXPORT_FIELD_PREFIX = "@export/";

export interface ExportsDeps {
  db: Database;
  defaultStorage: StorageDriver;
  live: LiveServer;
  /** The one pg-boss of the app (`uploads.start()`), which exports register with. */
  jobs: JobEngine;
  secret: string;
  now: () => Date;
  log: (message: string, error: unknown) => void;
  options?: ExportsOptions;
}

/**
 * Exports of one `createAsyncUploads` (`uploads.exports`): the registered types, requests, the
 * person's own exports (list, cancel, retry, clear, download), signed links and the worker.
 */
export class Exports implements AsyncUploadsExports {
  readonly registry: ExportRegistry;
  readonly #deps: ExportsDeps;
  readonly #publish: Publish;
  readonly #settings: { baseUrl: string; linkLifetimeSeconds: number; concurrency: number; batchSize: number; pollingIntervalSeconds: number | undefined };

  constructor(deps: ExportsDeps) {
    this.#deps = deps;
    this.registry = new ExportRegistry(deps.defaultStorage);
    this.#publish = (topic, event, data, options) => deps.live.publish(topic, event, data, options);
    const options = deps.options ?? {};
    const whole = (value: number | undefined, fallback: number, name: string) => {
      const result = value ?? fallback;
      if (!Number.isSafeInteger(result) || result < 1) throw new Error(`[async-uploads] exports.${name} must be a positive whole number`);
      return result;
    };
    const pollingIntervalSeconds = options.pollingIntervalSeconds;
    if (pollingIntervalSeconds !== undefined && !(pollingIntervalSeconds >= 0.5)) throw new Error("[async-uploads] exports.pollingIntervalSeconds must be at least 0.5");
    const linkLifetimeSeconds = options.linkLifetimeSeconds ?? 86_400;
    if (!(linkLifetimeSeconds > 0) || !Number.isFinite(linkLifetimeSeconds)) throw new Error("[async-uploads] exports.linkLifetimeSeconds must be a positive number");
    this.#settings = {
      baseUrl: (options.baseUrl ?? "/async-uploads").replace(/\/+$/, ""),
      linkLifetimeSeconds,
      // 4 × 8: at most 32 exports at once per process, and a backlog of small ones drains at ~570 jobs/s
      // on a 2-core machine (8 × 4 gave ~350: more loops, more fetches, the same bound).
      concurrency: whole(options.concurrency, 4, "concurrency"),
      batchSize: whole(options.batchSize, 8, "batchSize"),
      pollingIntervalSeconds,
    };
    deps.live.registerSnapshot("export", (id, principal) => this.#snapshot(id, principal));
    deps.jobs.use({
      // Apps without export types need neither pg-boss nor an export worker.
      needed: () => !this.registry.isEmpty(),
      createQueues: async (boss) => {
        await createExportQueues(boss);
        await scheduleExportCleanup(boss, options.cleanupSchedule ?? DEFAULT_EXPORT_CLEANUP_CRON);
      },
      startWorkers: (boss, settings) => this.#startWorker(boss, settings.pollingIntervalSeconds),
    });
  }

  /** Registers an export type at start-up (see README "Exports"). */
  register<C>(id: string, definition: ExportDefinition<C>): void {
    this.registry.register(id, definition);
  }

  /** Starts the export worker (`uploads.start()` on instances with workers): see `startExportWorker`. */
  async #startWorker(boss: PgBoss, pollingIntervalSeconds: number): Promise<void> {
    // The worker hears cancellations made on other instances through the live fan-out (a row poll backs it up).
    await this.#deps.live.ready().catch((error: unknown) => this.#deps.log("exports: the live fan-out did not start; cancellations arrive by polling", error));
    const { db, now, log } = this.#deps;
    const workerDeps = {
      db,
      registry: this.registry,
      publish: this.#publish,
      hub: this.#deps.live.hub,
      now,
      log,
      prefix: EXPORT_KEY_PREFIX,
      hot: prepareHotQueries(db),
      publishMany: (messages: LiveMessage[]) => this.#deps.live.publishMany(messages),
      ready: (definition: ResolvedExport, summary: ExportSummary, principal: string) => this.#ready(definition, summary, principal),
    };
    const { concurrency, batchSize } = this.#settings;
    await startExportWorker(workerDeps, boss, { concurrency, batchSize, pollingIntervalSeconds: this.#settings.pollingIntervalSeconds ?? pollingIntervalSeconds });
    if (this.#deps.options?.cleanupSchedule !== false) await startExportCleanupWorker(boss, (options) => this.cleanupExpired(options), log);
  }

  /** Removes the files of exports expired more than the leeway ago (default 1 h) and marks them expired; see cleanupExpiredExports. */
  cleanupExpired(options: ExpiredExportsOptions = {}): Promise<ExpiredExportsSummary> {
    const { db, now, log } = this.#deps;
    const leewayMs = options.leewayMs ?? (this.#deps.options?.cleanupLeewaySeconds ?? 3600) * 1000;
    const publishMany = (messages: LiveMessage[], options: { tx: Database }) => this.#deps.live.publishMany(messages, options);
    return cleanupExpiredExports({ db, now, log, publish: this.#publish, publishMany, storageOf: (exportId) => this.storageOf(exportId) }, { ...options, leewayMs });
  }

  /**
   * Asks for an export: checks it (404, 403, 400 before anything is written), then either streams it
   * now (`{ now }`, when the definition's `delay` says so) or queues it (`{ queued }`: the row and its
   * job in one transaction, `tx` when given; the identical queued or running one when there is one).
   */
  async request(request: ExportRequest): Promise<ExportRequestResult> {
    const checked = await checkRequest(this.registry.get(request.exportId), request.criteria, request.principal, this.#deps.log);
    if (!(await checked.definition.delay(checked.criteria, { principal: request.principal }))) {
      return { now: streamNow(checked, this.#deps.log), filename: checked.filename, contentType: checked.definition.contentType };
    }
    const boss = this.#requireBoss();
    const queue = (tx: Database) => queueExport(tx, boss, this.#publish, checked, this.#deps.now());
    const queued = request.tx ? await request.tx.transaction(queue) : await this.#deps.db.transaction(queue);
    return { queued };
  }

  /** The principal's exports, newest first (at most 100). */
  async list(principal: string): Promise<ExportSummary[]> {
    const rows = await this.#deps.db.select().from(asyncExport).where(eq(asyncExport.principal, principal)).orderBy(desc(asyncExport.createdAt)).limit(100);
    return rows.map(summaryOf);
  }

  /** One of the principal's exports; 404 for an unknown id or another principal's. */
  async get(id: string, principal: string): Promise<ExportSummary> {
    return summaryOf(await this.#own(id, principal));
  }

  /** Cancels a queued or running export (the worker's `signal` aborts, on whatever instance); a finished one is returned as it is. */
  cancel(id: string, principal: string): Promise<ExportSummary> {
    this.#checkId(id);
    return cancelExport(this.#deps.db, this.#publish, id, principal, this.#deps.now());
  }

  /** Queues a failed or cancelled export again (409 `not_retryable` otherwise). */
  retry(id: string, principal: string): Promise<ExportSummary> {
    this.#checkId(id);
    return retryExport(this.#deps.db, this.#requireBoss(), this.#publish, this.registry, id, principal);
  }

  /** Removes an export and its file (a queued or running one is cancelled first). */
  clear(id: string, principal: string): Promise<void> {
    this.#checkId(id);
    return clearExport(this.#deps.db, this.#publish, this.registry, id, principal, this.#deps.now(), this.#deps.log);
  }

  /** A short-lived signed storage URL of the principal's succeeded export (404 not theirs, 409 `not_ready`). */
  async downloadUrl(id: string, principal: string, context: (exportId: string) => UrlContext, lifetimeMs: number): Promise<string> {
    return this.#fileUrl(await this.#own(id, principal), context, lifetimeMs);
  }

  /** The same for a link token (`GET {base}/e/<token>`), for whoever holds it: see `verifyExportLink` for the refusals. */
  async linkDownloadUrl(token: string, principal: string | null, context: (exportId: string) => UrlContext, lifetimeMs: number): Promise<string> {
    const { id } = verifyExportLink(token, principal, this.#deps.secret, this.#deps.now().getTime());
    const row = UUID.test(id) ? (await this.#deps.db.select().from(asyncExport).where(eq(asyncExport.id, id)))[0] : undefined;
    if (!row) throw new AsyncUploadsError("not_found", "This export no longer exists.");
    return this.#fileUrl(row, context, lifetimeMs);
  }

  /** A signed link path `{baseUrl}/e/<token>` to export `id`: its requester's only, or anyone's with `general`. */
  async link(id: string, options: { general?: boolean; lifetimeSeconds?: number } = {}): Promise<string> {
    this.#checkId(id);
    const [row] = await this.#deps.db.select({ principal: asyncExport.principal }).from(asyncExport).where(eq(asyncExport.id, id));
    if (!row) throw new AsyncUploadsError("not_found", "There is no such export.");
    return this.#link(id, options.general ? null : row.principal, options.lifetimeSeconds);
  }

  /** The storage of an export type (the filesystem download route serves export files through it). */
  storageOf(exportId: string): StorageDriver | undefined {
    return this.registry.get(exportId)?.storage;
  }

  /** The storage behind a download token's field id, when it is an export's (`exportFieldId`). */
  storageOfFieldId(fieldId: string): StorageDriver | undefined {
    return fieldId.startsWith(EXPORT_FIELD_PREFIX) ? this.storageOf(fieldId.slice(EXPORT_FIELD_PREFIX.length)) : undefined;
  }

  /** The topic token that lets `principal`'s stream follow export `id`. */
  topicToken(id: string, principal: string): string {
    return this.#deps.live.topicToken(exportTopic(id), principal);
  }

  #link(id: string, principal: string | null, lifetimeSeconds = this.#settings.linkLifetimeSeconds): string {
    if (!(lifetimeSeconds > 0)) throw new Error("[async-uploads] a link's lifetime must be a positive number of seconds");
    return `${this.#settings.baseUrl}/e/${signExportLink(id, principal, this.#deps.now().getTime() + lifetimeSeconds * 1000, this.#deps.secret)}`;
  }

  async #ready(definition: ResolvedExport, summary: ExportSummary, principal: string): Promise<void> {
    if (!definition.onReady) return;
    const link = this.#link(summary.id, principal);
    await definition.onReady({ export: summary, principal, link, ...(definition.generalLink ? { generalLink: this.#link(summary.id, null) } : {}) });
  }

  async #fileUrl(row: AsyncExport, context: (exportId: string) => UrlContext, lifetimeMs: number): Promise<string> {
    if (row.status === "expired") throw new AsyncUploadsError("not_found", "This export has expired; ask for it again.");
    if (row.status !== "succeeded" || !row.key) throw new AsyncUploadsError("not_ready", "This export is not ready yet.");
    const storage = this.storageOf(row.exportId);
    if (!storage) throw new AsyncUploadsError("not_found", "This export is no longer available.");
    const expiresAt = new Date(Math.min(this.#deps.now().getTime() + lifetimeMs, row.expiresAt?.getTime() ?? Infinity));
    if (expiresAt.getTime() <= this.#deps.now().getTime()) throw new AsyncUploadsError("not_found", "This export has expired; ask for it again.");
    return storage.createDownloadUrl({ key: row.key, filename: row.filename, contentType: row.contentType, expiresAt }, context(row.exportId));
  }

  async #own(id: string, principal: string): Promise<AsyncExport> {
    this.#checkId(id);
    const [row] = await this.#deps.db.select().from(asyncExport).where(and(eq(asyncExport.id, id), eq(asyncExport.principal, principal)));
    if (!row) throw new AsyncUploadsError("not_found", "There is no such export.");
    return row;
  }

  #checkId(id: string): void {
    if (typeof id !== "string" || !UUID.test(id)) throw new AsyncUploadsError("not_found", "There is no such export.");
  }

  #requireBoss(): PgBoss {
    const boss = this.#deps.jobs.boss;
    if (boss) return boss;
    this.#deps.log("an export was requested before uploads.start(): call `await uploads.start()` when the app starts", new Error("exports not started"));
    throw new AsyncUploadsError("processing_unavailable", "Exports cannot be started right now. Please try again in a moment.");
  }

  async #snapshot(id: string, principal: string) {
    if (!UUID.test(id)) return null;
    const [row] = await this.#deps.db.select().from(asyncExport).where(and(eq(asyncExport.id, id), eq(asyncExport.principal, principal)));
    return row ? { event: EXPORT_EVENT, data: summaryOf(row), version: row.version } : null;
  }
}
