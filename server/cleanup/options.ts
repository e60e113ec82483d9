import ms from "ms";
import type { AsyncUploads } from "../create-async-uploads.js";
import type { CleanupProgress } from "./cleanup-temp-files.js";

/** The default threshold; the configured temp file lifetime wins when it is longer. */
export const DEFAULT_OLDER_THAN_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_BATCH_SIZE = 100;
export const MAX_BATCH_SIZE = 10_000;

/** What cleanup needs of `createAsyncUploads()`: the database, the fields' storages, the lifetimes. */
export type CleanupUploads = Pick<AsyncUploads, "db" | "registry" | "settings">;

export interface CleanupOptions {
  /** Rows created longer ago than this (ms) are removed. @default 24 h, or `tempFileLifetime` if longer */
  olderThanMs?: number;
  /** Allow `olderThanMs` below the upload URL lifetime (an upload could still be arriving). @default false */
  force?: boolean;
  /** Count what would be removed (stat only); change nothing. @default false */
  dryRun?: boolean;
  /** Rows claimed per transaction. @default 100 */
  batchSize?: number;
  /** Stop between batches once this long (ms) has passed. @default no limit */
  maxDurationMs?: number;
  /** Pause between batches (ms), to spare the database and storage. @default 0 */
  sleepMs?: number;
  /** Only rows of these fields. @default every field */
  fieldIds?: readonly string[];
  /** Aborting stops the run between batches (the CLI wires SIGINT/SIGTERM to it). */
  signal?: AbortSignal;
  /** Called after each batch. */
  onProgress?: (progress: CleanupProgress) => void;
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
}

/**
 * A cleanup asked for in a way that cannot work (options, command line, configuration module); nothing
 * was done, and running it again unchanged will not help. The command exits 2 with its message.
 */
export class CleanupUsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CleanupUsageError";
  }
}

/** Options checked against the configuration, with every default filled in: what a run works from. */
export interface CleanupSettings extends Pick<CleanupOptions, "signal" | "onProgress"> {
  olderThanMs: number;
  dryRun: boolean;
  batchSize: number;
  maxDurationMs: number | undefined;
  sleepMs: number;
  /** Only these fields; undefined for every field. */
  fieldIds: readonly string[] | undefined;
  now: () => Date;
}

/** The options with defaults filled in; throws `CleanupUsageError` for options that cannot work here. */
export function validateCleanupOptions(uploads: CleanupUploads, options: CleanupOptions): CleanupSettings {
  const { uploadUrlLifetimeMs, tempFileLifetimeMs } = uploads.settings;
  const olderThanMs = options.olderThanMs ?? Math.max(DEFAULT_OLDER_THAN_MS, tempFileLifetimeMs);
  const positive = (value: number | undefined, name: string) => {
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) throw new CleanupUsageError(`${name} must be a positive duration`);
  };
  positive(olderThanMs, "older-than");
  positive(options.maxDurationMs, "max-duration");
  if (options.sleepMs !== undefined && !(Number.isFinite(options.sleepMs) && options.sleepMs >= 0)) {
    throw new CleanupUsageError("sleep must be a duration of zero or more");
  }
  if (olderThanMs < uploadUrlLifetimeMs && !options.force) {
    throw new CleanupUsageError(
      `older-than (${ms(olderThanMs)}) is shorter than the upload URL lifetime (${ms(uploadUrlLifetimeMs)}): ` +
        "an upload could still be arriving (--force to do it anyway)",
    );
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new CleanupUsageError(`batch-size must be a whole number from 1 to ${MAX_BATCH_SIZE}`);
  }
  const fieldIds = options.fieldIds && options.fieldIds.length > 0 ? [...new Set(options.fieldIds)] : undefined;
  const unknown = fieldIds?.filter((id) => !uploads.registry.get(id));
  if (unknown && unknown.length > 0) {
    throw new CleanupUsageError(`field ${unknown.map((id) => `"${id}"`).join(", ")} is not registered in this configuration`);
  }
  return {
    olderThanMs, dryRun: options.dryRun ?? false, batchSize, maxDurationMs: options.maxDurationMs, sleepMs: options.sleepMs ?? 0, fieldIds,
    signal: options.signal, onProgress: options.onProgress, now: options.now ?? (() => new Date()),
  };
}
