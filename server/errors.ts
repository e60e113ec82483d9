import { ERROR_STATUS, type ErrorBody, type ErrorCode } from "../shared/errors.js";

/**
 * The one error class of the server: a code from the HTTP contract and a message a person can read.
 * Routes throw it and `onError` renders it; `commit` throws it (`invalid_upload`) for the app to show
 * next to the field.
 */
export class AsyncUploadsError extends Error {
  readonly code: ErrorCode;
  /** The form field the error belongs to, when it comes from `commit`. */
  readonly fieldId?: string;

  constructor(code: ErrorCode, message: string, options?: { fieldId?: string; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.name = "AsyncUploadsError";
    this.code = code;
    this.fieldId = options?.fieldId;
  }

  get status(): (typeof ERROR_STATUS)[ErrorCode] {
    return ERROR_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}
