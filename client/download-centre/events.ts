import type { ExportQueuedResponse, ExportSummary } from "../../shared/exports.js";

/** `async-export-start`: an export was queued (202); the centre adds it and follows it with `topicToken`. */
export interface ExportStartDetail extends ExportQueuedResponse {
  /** The routes' base URL the export was requested from (`/async-uploads`). */
  endpoint: string;
}

/** `async-export-change`: an export the centre lists changed status. */
export interface ExportChangeDetail {
  export: ExportSummary;
  /** The status before, or null when the centre had not listed it. */
  previous: ExportSummary["status"] | null;
}

/** `async-export-error`: a request of the element was refused or failed. */
export interface ExportErrorDetail {
  /** The server's error code, `network_error` or `bad_response`. */
  code: string;
  /** The message shown in the element. */
  message: string;
  /** HTTP status, when there was a response. */
  status: number | null;
  /** The export concerned, when there is one. */
  id?: string;
}

/** `async-export-served`: the server answered the file at once (200) and the browser was handed it. */
export interface ExportServedDetail {
  filename: string;
  size: number;
}

const options = { bubbles: true, composed: true } as const;

/**
 * An export was queued. `<async-export-button>` dispatches it on `document` (so a centre anywhere on
 * the page hears it); an app that starts exports its own way dispatches it too.
 */
export class AsyncExportStartEvent extends Event {
  static readonly type = "async-export-start";
  readonly detail: ExportStartDetail;
  constructor(detail: ExportStartDetail) {
    super(AsyncExportStartEvent.type, options);
    this.detail = detail;
  }
}

/** An export in the centre changed status (queued → running → succeeded, failed, cancelled, expired). */
export class AsyncExportChangeEvent extends Event {
  static readonly type = "async-export-change";
  readonly detail: ExportChangeDetail;
  constructor(detail: ExportChangeDetail) {
    super(AsyncExportChangeEvent.type, options);
    this.detail = detail;
  }
}

/** A request of the centre or the button failed; the element shows `detail.message`. */
export class AsyncExportErrorEvent extends Event {
  static readonly type = "async-export-error";
  readonly detail: ExportErrorDetail;
  constructor(detail: ExportErrorDetail) {
    super(AsyncExportErrorEvent.type, options);
    this.detail = detail;
  }
}

/** The button's export was served at once and handed to the browser as a download. */
export class AsyncExportServedEvent extends Event {
  static readonly type = "async-export-served";
  readonly detail: ExportServedDetail;
  constructor(detail: ExportServedDetail) {
    super(AsyncExportServedEvent.type, options);
    this.detail = detail;
  }
}

declare global {
  interface DocumentEventMap {
    "async-export-start": AsyncExportStartEvent;
  }
}
