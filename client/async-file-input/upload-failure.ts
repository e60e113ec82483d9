import type { ErrorCode } from "../../shared/errors.js";

/**
 * Why an upload did not finish. Server codes (`file_too_large`, `forbidden`, …) come from the error body
 * of `upload-url`; the others are the client's own:
 * - `network_error`: no answer at all (offline, connection reset, blocked by CORS);
 * - `server_error`: an error status without our JSON error body (a proxy page, a crash);
 * - `bad_response`: a success status whose body is not an upload target;
 * - `storage_rejected`: the storage answered the upload itself with an error status;
 * - `aborted`: canceled by the person (never shown).
 */
export type UploadFailureCode =
  | ErrorCode
  | "network_error"
  | "server_error"
  | "bad_response"
  | "storage_rejected"
  | "aborted";

/** What the strings need to describe a failure. */
export interface UploadFailureInfo {
  code: UploadFailureCode | (string & {});
  /** HTTP status, when there was a response. */
  status?: number;
  /** The server's or the storage's own message, when it sent one. */
  serverMessage?: string;
}

export class UploadFailure extends Error implements UploadFailureInfo {
  readonly code: UploadFailureInfo["code"];
  readonly status?: number;
  readonly serverMessage?: string;
  /** Worth retrying by itself, with backoff: the network failed or a gateway was briefly unavailable. */
  readonly transient: boolean;

  constructor(info: UploadFailureInfo & { transient?: boolean; cause?: unknown }) {
    super(`upload failed: ${info.code}${info.status ? ` (${info.status})` : ""}`, { cause: info.cause });
    this.name = "UploadFailure";
    this.code = info.code;
    this.status = info.status;
    this.serverMessage = info.serverMessage;
    this.transient = info.transient ?? false;
  }
}
