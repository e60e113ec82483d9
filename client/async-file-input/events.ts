/** The file an event is about; `id` tells apart two files of the same name. */
export interface UploadEventDetail {
  id: string;
  file: File;
}

export interface UploadProgressDetail extends UploadEventDetail {
  /** Bytes sent so far. */
  loaded: number;
  total: number;
  /** 0–100, rounded down; the last progress event of a successful upload says 100. */
  percent: number;
}

export interface UploadCompleteDetail extends UploadEventDetail {
  /** The key now in the form value. */
  key: string;
}

export interface UploadErrorDetail {
  /** Absent for refusals about the whole selection (`too_many_files`). */
  id?: string;
  file?: File;
  /** A server error code, `network_error`, `server_error`, `bad_response`, `storage_rejected`, or a refusal
   * made before any request: `empty_file`, `file_too_large`, `type_not_allowed`, `invalid_filename`,
   * `folder`, `too_many_files`. */
  code: string;
  /** The message shown in the component. */
  message: string;
  /** HTTP status, when there was a response. */
  status?: number;
}

export interface UploadProcessingDetail extends UploadCompleteDetail {
  /** `uploaded` (not yet heard from the server), `queued`, `running`, `passed`, `rejected` or `failed`. */
  state: "uploaded" | "queued" | "running" | "passed" | "rejected" | "failed";
  /** The running or last step's label ("Scanning for viruses"). */
  label: string | null;
  /** Why it was rejected, or why it could not be checked. */
  reason: string | null;
}

const options = { bubbles: true, composed: true } as const;

/** An upload starts (also when it is retried). */
export class AsyncUploadStartEvent extends Event {
  readonly detail: UploadEventDetail;
  constructor(detail: UploadEventDetail) {
    super("async-upload-start", options);
    this.detail = detail;
  }
}

/** Bytes were sent. */
export class AsyncUploadProgressEvent extends Event {
  readonly detail: UploadProgressDetail;
  constructor(detail: UploadProgressDetail) {
    super("async-upload-progress", options);
    this.detail = detail;
  }
}

/** The file is in storage and its key is in the form value. */
export class AsyncUploadCompleteEvent extends Event {
  readonly detail: UploadCompleteDetail;
  constructor(detail: UploadCompleteDetail) {
    super("async-upload-complete", options);
    this.detail = detail;
  }
}

/** A file was refused, or its upload failed after the automatic retries. */
export class AsyncUploadErrorEvent extends Event {
  readonly detail: UploadErrorDetail;
  constructor(detail: UploadErrorDetail) {
    super("async-upload-error", options);
    this.detail = detail;
  }
}

/** The server's checks of an uploaded file changed (fields with processing steps). */
export class AsyncUploadProcessingEvent extends Event {
  readonly detail: UploadProcessingDetail;
  constructor(detail: UploadProcessingDetail) {
    super("async-upload-processing", options);
    this.detail = detail;
  }
}

/** The element's events by name, for typed `addEventListener` calls. */
export interface AsyncFileInputEventMap {
  "async-upload-start": AsyncUploadStartEvent;
  "async-upload-progress": AsyncUploadProgressEvent;
  "async-upload-complete": AsyncUploadCompleteEvent;
  "async-upload-error": AsyncUploadErrorEvent;
  "async-upload-processing": AsyncUploadProcessingEvent;
}

// The events bubble and cross shadow roots, so a listener on the document or the window is typed too.
declare global {
  interface HTMLElementEventMap extends AsyncFileInputEventMap {}
  interface DocumentEventMap extends AsyncFileInputEventMap {}
  interface WindowEventMap extends AsyncFileInputEventMap {}
}
