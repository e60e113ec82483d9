import type { Context, Hono } from "hono";
import type { CommitRequest, CommitResult } from "./commit/commit.js";
import { commitInTransaction, type Save } from "./commit/transaction.js";
import type { Database } from "./db/database.js";
import { DEFAULT_TEMP_PREFIX, normalizePrefix } from "./keys.js";
import { Exports } from "./exports/exports.js";
import type { AsyncUploadsExports, ExportsOptions } from "./exports/types.js";
import { createLiveChannel, type LiveChannel, type LiveOptions } from "./live/live-channel.js";
import { findPendingUpload, type PendingUpload, type PendingUploadQuery } from "./pending-upload.js";
import { JobEngine } from "./processing/job-engine.js";
import type { ProcessingOptions } from "./processing/options.js";
import { UploadProcessing } from "./processing/upload-processing.js";
import { FieldRegistry } from "./registry.js";
import type { RouteDeps } from "./routes/deps.js";
import { createRoutes } from "./routes/index.js";
import type { StorageDriver } from "./storage/types.js";

export interface AsyncUploadsOptions {
  /** drizzle database (postgres.js or PGlite) holding `async_temp_file`. */
  db: Database;
  /** HMAC secret for the filesystem backend's upload and download tokens; at least 32 characters. */
  secret: string;
  /** Storage for fields that do not name their own. */
  storage: StorageDriver;
  /** Who is asking (user id, or an anonymous session id); null means nobody, and uploads are refused. */
  getPrincipal: (c: Context) => string | null | Promise<string | null>;
  /** How long an upload URL works, in seconds. @default 900 */
  uploadUrlLifetime?: number;
  /** How long a download URL works, in seconds. @default 300 */
  downloadUrlLifetime?: number;
  /** How long an upload may wait for its form to be saved, in seconds. @default 86400 */
  tempFileLifetime?: number;
  /** Prefix of temp keys. @default "async-temp/" */
  tempPrefix?: string;
  /** Uncommitted uploads one principal may hold at once; more get 429. @default 100 */
  maxPendingUploadsPerPrincipal?: number;
  /**
   * Declared bytes of the uncommitted uploads one principal may hold at once; more get 429
   * `too_many_pending_bytes`. `Infinity` for no bound. @default 10 GiB, or the field's `maxSize` if larger
   */
  maxPendingBytesPerPrincipal?: number;
  /**
   * Declared bytes of the uncommitted uploads of all principals together (anonymous sessions cost
   * nothing to make); more get 429 `storage_quota_reached`. `Infinity` for no bound.
   * @default 100 GiB, or the per-principal bound if larger
   */
  maxPendingBytes?: number;
  /** Origins besides the page's own allowed to call `upload-url` (e.g. behind a proxy). @default [] */
  allowedOrigins?: readonly string[];
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
  /** Where work left for cleanup is reported. @default console.warn */
  log?: (message: string, error: unknown) => void;
  /** The live channel (`GET {base}/events`): fan-out, heartbeat, bounds. See README "Live events". */
  live?: LiveOptions;
  /** Where upload processing runs (fields with `processing` steps): pg-boss schema, worker, concurrency. See README "Processing uploads". */
  processing?: ProcessingOptions;
  /** Exports (files built in the background): link base URL, worker batch and concurrency. See README "Exports". */
  exports?: ExportsOptions;
}

export interface AsyncUploads {
  /** Register each upload field here at start-up. */
  registry: FieldRegistry;
  /** The HTTP routes, to mount with `app.route("/async-uploads", uploads.routes)`. */
  routes: Hono;
  /**
   * Runs `save` in a transaction of `db` and finishes every commit made through the `commit` it is
   * given: temp and replaced objects are deleted after the transaction commits, and copies are
   * deleted if it rolls back. The way to save a form: the app's own writes go on `tx`.
   */
  transaction<T>(save: Save<T>): Promise<T>;
  /** Commits one field's form value in a transaction of its own: `transaction` with nothing else to save. */
  commit(request: CommitRequest): Promise<CommitResult>;
  /**
   * The pending upload a posted form value names, if it is still usable by this principal for this
   * field; for showing the form again after a refused save without uploading the file again.
   */
  findPendingUpload(query: PendingUploadQuery): Promise<PendingUpload | null>;
  /** The resolved settings, for the cleanup command. */
  settings: Readonly<{ tempPrefix: string; uploadUrlLifetimeMs: number; tempFileLifetimeMs: number }>;
  db: Database;
  /**
   * Sends `event` with small JSON `data` to the streams that hear `topic` on every instance; with `tx`
   * only once that transaction commits, never if it rolls back.
   */
  publish: LiveChannel["publish"];
  /** A short-lived token that lets `principal`'s stream hear `topic` (`GET {base}/events?topic=<token>`). */
  topicToken(topic: string, principal: string): string;
  /** The live channel: publishing, topic tokens, snapshot providers. */
  live: LiveChannel;
  /** Exports: `register` types at start-up, `request` one, signed `link`s (README "Exports"). */
  exports: AsyncUploadsExports;
  /**
   * Starts what runs in the background: pg-boss and the processing worker, when a field declares
   * `processing` steps (nothing otherwise). Call it once at start-up, after registering the fields.
   */
  start(): Promise<void>;
  /** Stops what runs in the background (the processing worker and pg-boss, the live channel's LISTEN and its open streams). */
  close(): Promise<void>;
}

/** Creates the field registry, the routes and the commit step around one database and default storage. */
export function createAsyncUploads(options: AsyncUploadsOptions): AsyncUploads {
  if (typeof options.secret !== "string" || options.secret.length < 32) {
    throw new Error("[async-uploads] secret must be a string of at least 32 characters (set ASYNC_UPLOADS_SECRET)");
  }
  const seconds = (value: number | undefined, fallback: number, name: string) => {
    const result = value ?? fallback;
    if (!Number.isFinite(result) || result <= 0) throw new Error(`[async-uploads] ${name} must be a positive number of seconds`);
    return result * 1000;
  };
  const registry = new FieldRegistry(options.storage);
  const now = options.now ?? (() => new Date());
  const log = options.log ?? ((message: string, error: unknown) => console.warn(`[async-uploads] ${message}`, error));
  const live = createLiveChannel({ ...options.live, db: options.db, secret: options.secret, now: () => now().getTime(), log });
  const deps: RouteDeps = {
    db: options.db,
    registry,
    secret: options.secret,
    getPrincipal: options.getPrincipal,
    tempPrefix: normalizePrefix(options.tempPrefix ?? DEFAULT_TEMP_PREFIX),
    uploadUrlLifetimeMs: seconds(options.uploadUrlLifetime, 900, "uploadUrlLifetime"),
    downloadUrlLifetimeMs: seconds(options.downloadUrlLifetime, 300, "downloadUrlLifetime"),
    tempFileLifetimeMs: seconds(options.tempFileLifetime, 86_400, "tempFileLifetime"),
    maxPendingUploadsPerPrincipal: wholeNumber(options.maxPendingUploadsPerPrincipal, "maxPendingUploadsPerPrincipal", "uploads") ?? 100,
    maxPendingBytesPerPrincipal: wholeNumber(options.maxPendingBytesPerPrincipal, "maxPendingBytesPerPrincipal", "bytes"),
    maxPendingBytes: wholeNumber(options.maxPendingBytes, "maxPendingBytes", "bytes"),
    allowedOrigins: options.allowedOrigins ?? [],
    now,
    log,
    live,
  };
  // One pg-boss for every kind of background job, started by start() only when one needs it.
  const jobs = new JobEngine(options.db, options.processing, log);
  deps.processing = new UploadProcessing({ db: options.db, registry, live, jobs, now, log });
  const exportService = new Exports({ db: options.db, defaultStorage: options.storage, live, jobs, secret: options.secret, now, log, options: options.exports });
  deps.exports = exportService;
  if (deps.tempFileLifetimeMs < deps.uploadUrlLifetimeMs) {
    throw new Error("[async-uploads] tempFileLifetime must not be shorter than uploadUrlLifetime");
  }
  if (deps.maxPendingBytesPerPrincipal !== undefined && deps.maxPendingBytes !== undefined && deps.maxPendingBytesPerPrincipal > deps.maxPendingBytes) {
    throw new Error("[async-uploads] maxPendingBytesPerPrincipal must not be larger than maxPendingBytes");
  }
  const commitDeps = {
    db: options.db,
    registry,
    tempPrefix: deps.tempPrefix,
    now,
    log,
  };

  return {
    registry,
    routes: createRoutes(deps),
    transaction: (save) => commitInTransaction(commitDeps, save),
    commit: (request) => commitInTransaction(commitDeps, (_tx, commit) => commit(request)),
    findPendingUpload: (query) => findPendingUpload(options.db, query, now()),
    settings: { tempPrefix: deps.tempPrefix, uploadUrlLifetimeMs: deps.uploadUrlLifetimeMs, tempFileLifetimeMs: deps.tempFileLifetimeMs },
    db: options.db,
    publish: (topic, event, data, publishOptions) => live.publish(topic, event, data, publishOptions),
    topicToken: (topic, principal) => live.topicToken(topic, principal),
    live,
    exports: exportService,
    start: () => jobs.start(),
    close: async () => {
      await jobs.close();
      await live.close();
    },
  };
}

/** A bound given as an option: a positive whole number, or `Infinity` for none; undefined when not given. */
function wholeNumber(value: number | undefined, name: string, unit: string): number | undefined {
  if (value === undefined || value === Infinity) return value;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`[async-uploads] ${name} must be a positive whole number of ${unit} (or Infinity for no bound), not ${String(value)}`);
  }
  return value;
}
