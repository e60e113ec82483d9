/**
 * Wire types of exports (issue 15): files built in the background and picked up later. The server publishes
 * each change as event `export` on topics `export:<id>` and `user:<principal>`, and answers the same
 * {@link ExportSummary} from `GET {base}/exports` and `GET {base}/exports/{id}`. Shared by server and browser;
 * no Node or DOM imports.
 */

/**
 * Where one export is. `failed`: the writer threw or storage failed after its retries (may be retried);
 * `cancelled`: the person cancelled it (may be retried); `expired`: its file was removed after its lifetime.
 */
export type ExportStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled" | "expired";

/** One export as the routes and the live channel show it (event `export` on `export:<id>` and `user:<principal>`). */
export interface ExportSummary {
  /** Our id of this request (a uuid); the only handle routes accept (never a storage key or path). */
  id: string;
  /** The registered export type ("documents.csv"). */
  exportId: string;
  /** The file name the download will carry. */
  filename: string;
  contentType: string;
  status: ExportStatus;
  /** 0–100 while running (and 100 once succeeded), null when the writer gave no total. */
  percentage: number | null;
  /** Failed: a safe message to show; null otherwise. */
  message: string | null;
  /** Bytes of the finished file, null before. */
  size: number | null;
  /** ISO 8601 instants. */
  createdAt: string;
  finishedAt: string | null;
  /** When a succeeded export's file is removed. */
  expiresAt: string | null;
  /** Increases with every change (the database is the truth; a lower version is stale). */
  version: number;
}

/** Body of `POST {base}/exports`. */
export interface ExportRequestBody {
  exportId: string;
  criteria: unknown;
}

/** `POST {base}/exports` 202 (and the answer of cancel/retry): the export and a token to follow `export:<id>`. */
export interface ExportQueuedResponse {
  export: ExportSummary;
  topicToken: string;
}

/** `GET {base}/exports`: the principal's exports, newest first. */
export interface ExportListResponse {
  exports: ExportSummary[];
}

/** Event name of an export change. */
export const EXPORT_EVENT = "export";

/** Event name sent (data `{ id }`, on both topics) when the person cleared an export: drop it from the list. */
export const EXPORT_CLEARED_EVENT = "export-cleared";

/** Topic of one export's events. */
export function exportTopic(id: string): string {
  return `export:${id}`;
}

/** Export type ids: short, stable, printable (they appear in URLs, events and logs). */
export const EXPORT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Shown when an export could not be built (the writer threw, storage failed); the real error is only logged. */
export const EXPORT_FAILED_MESSAGE = "This export could not be built, try again.";

/** True once the status will not change on its own (failed and cancelled may be retried by the person). */
export function isFinalExportStatus(status: ExportStatus): boolean {
  return status === "succeeded" || status === "failed" || status === "cancelled" || status === "expired";
}

/** True while a job exists for it (dedupe and the per-principal bound count these). */
export function isActiveExportStatus(status: ExportStatus): boolean {
  return status === "queued" || status === "running";
}
