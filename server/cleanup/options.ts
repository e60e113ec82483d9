import ms from "ms";
import type { AsyncUploads } from "../create-async-uploads.js";

/** The default threshold; the configured temp file lifetime wins when it is longer. */
export const DEFAULT_OLDER_THAN_MS = 24 * 60 * 60 * 1000;
/**
 * 250, not 100: each batch costs the database a fixed share (claim, DELETE, commit, and a plan for
 * each statement) besides its rows, and at 100 that share made cleanup on the filesystem spend 15–20 µs
 * of PostgreSQL CPU a row against 10 at 250, on a machine where PostgreSQL shares the app's cores.
 * Still under Azure's 256 deletes per Blob Batch, so each batch is one call there (S3: 1,000).
 */
export const DEFAULT_BATCH_SIZE = 250;
export const MAX_BATCH_SIZE = 10_000;

const DAY = 24 * 60 * 60 * 1000;

/** The range of a duration option, in milliseconds. */
export interface DurationLimits {
  min: number;
  max: number;
}

/**
 * What each duration option may be. Beyond these a value only ever meant a typo, and broke something:
 * a cutoff before 4713 BC (PostgreSQL's first timestamp) or past JavaScript's dates, or a pause that
 * Node.js timers cannot hold (over 24.8 days, which they turn into 1 ms).
 */
export const DURATION_LIMITS = {
  "older-than": { min: 1, max: 36_525 * DAY },
  "max-duration": { min: 1, max: 7 * DAY },
  sleep: { min: 0, max: 60 * 60 * 1000 },
  /** cleanup-expired-exports: grace after an export's expiry. */
  leeway: { min: 0, max: 36_525 * DAY },
} as const satisfies Record<string, DurationLimits>;
export type DurationOption = keyof typeof DURATION_LIMITS;

/**
 * Throws `CleanupUsageError` unless `value` is a number of milliseconds within the option's limits.
 * `label` is how the message names the option (`--older-than` on the command line), `shown` the value
 * as it was given.
 */
export function checkDuration(value: number, option: DurationOption, label: string = option, shown = `${String(value)} ms`): void {
  const { min, max } = DURATION_LIMITS[option];
  if (typeof value !== "number" || Number.isNaN(value) || value < 0 || (value === 0 && min > 0)) {
    throw new CleanupUsageError(`${label} must be a ${min > 0 ? "positive duration" : "duration of zero or more"}, not ${shown}`);
  }
  if (value < min) throw new CleanupUsageError(`${label} must be at least ${ms(min)}, not ${shown}`);
  if (value > max) throw new CleanupUsageError(`${label} must be at most ${ms(max)}, not ${shown}`);
}

/** What cleanup needs of `createAsyncUploads()`: the database, the fields' storages, the lifetimes. */
export type CleanupUploads = Pick<AsyncUploads, "db" | "registry" | "settings">;

export interface CleanupOptions {
  /** Rows created longer ago than this (ms) are removed; 1 ms to 100 years. @default 24 h, or `tempFileLifetime` if longer */
  olderThanMs?: number;
  /** Allow `olderThanMs` below the upload URL lifetime (an upload could still be arriving). @default false */
  force?: boolean;
  /** Count what would be removed (stat only); change nothing. @default false */
  dryRun?: boolean;
  /** Rows claimed per transaction. @default 250 */
  batchSize?: number;
  /** Stop between batches once this long (ms) has passed; at most 7 days. @default no limit */
  maxDurationMs?: number;
  /** Pause between batches (ms), to spare the database and storage; at most 1 hour. @default 0 */
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

/** What `onProgress` is told after each batch. */
export interface CleanupProgress {
  batch: number;
  /** Rows handled so far (removed, failed or skipped). */
  done: number;
  /** Rows eligible when the run started (other runs working at once may take some of them). */
  total: number;
  removed: number;
  failed: number;
  skipped: number;
  bytesFreed: number;
  elapsedMs: number;
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
  checkDuration(olderThanMs, "older-than");
  if (options.maxDurationMs !== undefined) checkDuration(options.maxDurationMs, "max-duration");
  if (options.sleepMs !== undefined) checkDuration(options.sleepMs, "sleep");
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
    throw new CleanupUsageError(`field ${unknown.map((id) => JSON.stringify(id)).join(", ")} is not registered in this configuration`);
  }
  return {
    olderThanMs, dryRun: options.dryRun ?? false, batchSize, maxDurationMs: options.maxDurationMs, sleepMs: options.sleepMs ?? 0, fieldIds,
    signal: options.signal, onProgress: options.onProgress, now: options.now ?? (() => new Date()),
  };
}
