/**
 * Wire types of upload processing (issue 14): the steps a field runs after an upload arrives, and the state
 * of one file as the server publishes it on topic `upload:<fileId>` (event `processing`) and answers it from
 * `POST {base}/process`. Shared by server and browser; no Node or DOM imports.
 */

/** Where one file is in its processing. `failed` means it could not be checked (error or timeout after retries). */
export type ProcessingStateName = "queued" | "running" | "passed" | "rejected" | "failed";

/** Data of event `processing` on topic `upload:<fileId>`; also the snapshot sent on (re)connect. */
export interface ProcessingState {
  fileId: string;
  /** `failed` = could not be checked (error/timeout after retries): the person may try again. */
  state: ProcessingStateName;
  /** Name of the running or last step (`verify` is the built-in first step), null before any step ran. */
  step: string | null;
  /** Its human label ("Checking", "Scanning for viruses"). */
  label: string | null;
  /** Rejected: why, safe to show; failed: a safe message. Null otherwise. */
  reason: string | null;
  /** Increases with every change of this file's state (the database is the truth). */
  version: number;
}

/** Added to the `POST upload-url` 201 response (`UploadUrlResponse.processing`) when the field declares steps. */
export interface UploadProcessingPlan {
  fileId: string;
  /** Lets the events stream hear `upload:<fileId>` (short-lived, bound to the principal and the topic). */
  topicToken: string;
  /** Every step in the order it runs, the built-in `verify` first. */
  steps: { name: string; label: string }[];
}

/** Body of `POST {base}/process`; the answer is 202 {@link ProcessingState}. */
export interface ProcessRequest {
  key: string;
}

/** Event name of a processing state change. */
export const PROCESSING_EVENT = "processing";

/** Topic of one file's processing events. */
export function uploadTopic(fileId: string): string {
  return `upload:${fileId}`;
}

/** Step names are short, lowercase and stable: they appear in events and logs. */
export const PROCESSING_STEP_NAME = /^[a-z][a-z0-9-]{0,40}$/;

/** The built-in first step: the checks commit makes (real size equals declared, sniffed type vs accept). */
export const VERIFY_STEP = { name: "verify", label: "Checking" } as const;

/** Shown when a file could not be checked (a step threw or hung after its retries); the step's error is only logged. */
export const PROCESSING_FAILED_REASON = "This file could not be checked, try again.";

/** True once the state will not change without a new request (`failed` may be tried again). */
export function isFinalProcessingState(state: ProcessingStateName): boolean {
  return state === "passed" || state === "rejected" || state === "failed";
}
