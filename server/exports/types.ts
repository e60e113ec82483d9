import type { ExportSummary } from "../../shared/exports.js";
import type { Database } from "../db/types.js";
import type { StorageDriver } from "../storage/types.js";
import type { ExpiredExportsOptions, ExpiredExportsSummary } from "./cleanup-expired-exports.js";

/**
 * Thrown by an export's `criteria()` when the input is not acceptable: `POST {base}/exports` answers
 * 400 `invalid_criteria` with this message (so it must be safe to show), before any row or job exists.
 */
export class ExportCriteriaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExportCriteriaError";
  }
}

/**
 * Where a `write` puts the file's bytes. `write` resolves once the chunk is taken (awaiting it keeps
 * memory bounded: the storage upload or the HTTP response pulls at its own pace). Strings are UTF-8.
 */
export interface ExportOutput {
  write(chunk: string | Uint8Array): Promise<void>;
}

/** What an export's `write` is given. */
export interface ExportWriteContext<C> {
  criteria: C;
  principal: string;
  output: ExportOutput;
  /**
   * Reports progress: `done` of `total` items (rows, bytes). Cheap to call for every row: the
   * database is written at most every 250 ms and only when the whole percentage changed.
   */
  progress(done: number, total?: number): void;
  /** Aborted when the person cancels (on any instance), the job times out or the worker stops. */
  signal: AbortSignal;
}

/** What `delay` and `canRequest` are told. */
export interface ExportRequestContext {
  principal: string;
}

/** What `onReady` is handed once an export's file is stored. */
export interface ExportReadyContext {
  export: ExportSummary;
  principal: string;
  /** A signed link (`{exports.baseUrl}/e/<token>`) only the requester can use, valid for `linkLifetimeSeconds`. */
  link: string;
  /** A link anyone holding it can use; only when the definition sets `generalLink: true`. */
  generalLink?: string;
}

/** `uploads.exports.register(id, definition)`. */
export interface ExportDefinition<C = unknown> {
  /** Who may request one. @default () => true */
  canRequest?: (context: ExportRequestContext) => boolean | Promise<boolean>;
  /** Validates and parses the request's criteria; throw `ExportCriteriaError(message)` for a 400 (any throw refuses). Must be deterministic: the worker parses the same input again. */
  criteria: (input: unknown) => C;
  /** The download's file name (a safe name is derived from it). */
  filename: (criteria: C) => string;
  contentType: string;
  /** true → queued and built by a worker; false → streamed in the response now. @default () => true */
  delay?: (criteria: C, context: ExportRequestContext) => boolean | Promise<boolean>;
  /** Streams the file into `output`, reporting progress; should stop when `signal` aborts. */
  write: (context: ExportWriteContext<C>) => Promise<void>;
  /** Where queued exports are stored. @default the uploads' default storage */
  storage?: StorageDriver;
  /** How long a finished export's file is kept, in seconds. @default 86400 */
  lifetimeSeconds?: number;
  /** Queued or running exports (of any type) one principal may have at once when requesting this one; more get 429. @default 3 */
  maxConcurrentPerPrincipal?: number;
  /** Attempts after the first when `write` or the storage throws (exponential backoff from 1 s, at most 60 s). @default 2 */
  retryLimit?: number;
  /** Longest one attempt may run, in seconds; then its signal aborts and it is retried. @default 3600 */
  timeoutSeconds?: number;
  /** Also hand `onReady` a general link (anyone holding it may download). @default false */
  generalLink?: boolean;
  /** Called once the file is stored (e.g. to email the link); its failure is only logged. */
  onReady?: (context: ExportReadyContext) => void | Promise<void>;
}

/** A registered definition with its defaults filled in. */
export interface ResolvedExport {
  id: string;
  canRequest: (context: ExportRequestContext) => boolean | Promise<boolean>;
  criteria: (input: unknown) => unknown;
  filename: (criteria: unknown) => string;
  contentType: string;
  delay: (criteria: unknown, context: ExportRequestContext) => boolean | Promise<boolean>;
  write: (context: ExportWriteContext<unknown>) => Promise<void>;
  storage: StorageDriver;
  lifetimeSeconds: number;
  maxConcurrentPerPrincipal: number;
  retryLimit: number;
  timeoutSeconds: number;
  generalLink: boolean;
  onReady?: (context: ExportReadyContext) => void | Promise<void>;
}

/**
 * `createAsyncUploads({ exports })`: how export jobs run. They share the app's one pg-boss with upload
 * processing; `processing.worker: false` (a web-only instance) runs no export worker either.
 */
export interface ExportsOptions {
  /**
   * The mounted routes' URL, used in the links handed to `onReady` (`{baseUrl}/e/<token>`). Make it
   * absolute (`https://app.example/async-uploads`) when the links leave the site, in an email.
   * @default "/async-uploads"
   */
  baseUrl?: string;
  /**
   * Fetch loops of the export worker in this process. Each builds up to `batchSize` exports side by
   * side and fetches again once they all ended: at most `concurrency × batchSize` exports at once.
   * @default 4
   */
  concurrency?: number;
  /** Jobs one loop fetches at once; while fetches come back full it fetches again without pausing (a backlog drains fast). @default 8 */
  batchSize?: number;
  /** How often an idle export worker polls when no NOTIFY woke it, in seconds (≥ 0.5). @default processing.pollingIntervalSeconds (2) */
  pollingIntervalSeconds?: number;
  /** How long a signed link (`/e/<token>`) works, in seconds. @default 86400 */
  linkLifetimeSeconds?: number;
  /**
   * pg-boss cron (UTC) of the expired-export cleanup run by the instances' workers, so no system cron
   * is needed; `false` removes the schedule (run `async-uploads cleanup-expired-exports` instead).
   * @default "*\/10 * * * *" (every 10 minutes)
   */
  cleanupSchedule?: string | false;
  /** Grace after an export expires before the scheduled cleanup removes its file, in seconds. @default 3600 */
  cleanupLeewaySeconds?: number;
}

/** What `uploads.exports.request()` answers. */
export type ExportRequestResult =
  | { now: ReadableStream<Uint8Array>; filename: string; contentType: string }
  | { queued: ExportSummary };

/** `uploads.exports.request()`'s argument. */
export interface ExportRequest {
  exportId: string;
  criteria: unknown;
  principal: string;
  /** The app's transaction: the row and the job are written in it (and vanish if it rolls back). */
  tx?: Database;
}

/**
 * `uploads.exports`: what an app calls. (The class behind it also serves the routes and the worker;
 * its declaration names pg-boss's types, which an app without pg-boss installed cannot resolve.)
 */
export interface AsyncUploadsExports {
  /** Registers an export type at start-up (see README "Exports"). */
  register<C>(id: string, definition: ExportDefinition<C>): void;
  /** Serves the file now, or queues the export (its row and job in one transaction, the app's `tx` when given). */
  request(request: ExportRequest): Promise<ExportRequestResult>;
  /** The principal's exports, newest first (at most 100). */
  list(principal: string): Promise<ExportSummary[]>;
  /** One of the principal's exports; 404 for an unknown id or another principal's. */
  get(id: string, principal: string): Promise<ExportSummary>;
  /** Cancels a queued or running export (the worker's `signal` aborts, on whatever instance). */
  cancel(id: string, principal: string): Promise<ExportSummary>;
  /** Queues a failed or cancelled export again (409 `not_retryable` otherwise). */
  retry(id: string, principal: string): Promise<ExportSummary>;
  /** Removes an export and its file (a queued or running one is cancelled first). */
  clear(id: string, principal: string): Promise<void>;
  /** A signed link path `{baseUrl}/e/<token>` to export `id`: its requester's only, or anyone's with `general`. */
  link(id: string, options?: { general?: boolean; lifetimeSeconds?: number }): Promise<string>;
  /** The topic token that lets `principal`'s stream follow export `id`. */
  topicToken(id: string, principal: string): string;
  /** Removes the files of exports expired more than the leeway ago and marks them expired (`cleanup-expired-exports`). */
  cleanupExpired(options?: ExpiredExportsOptions): Promise<ExpiredExportsSummary>;
}
