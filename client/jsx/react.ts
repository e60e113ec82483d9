/**
 * `async-uploads/react`: types `<async-file-input>` in React 19 JSX. Types only (the JavaScript module is
 * empty); opt in once per project, for example in `src/vite-env.d.ts` or beside the import that defines
 * the element:
 *
 *     import "async-uploads/client";           // defines <async-file-input>
 *     import type {} from "async-uploads/react"; // types it in JSX
 *
 * What React 19 does with these props on a custom element (react-dom's `setPropOnCustomElement`):
 * - a prop that names a property of the element sets that property (`name`, `endpoint`, `accept`,
 *   `multiple`, `required`, `disabled`, `filename`, `size`, `value`, `defaultValue`, `storedFiles`,
 *   `error`); any other one
 *   becomes an attribute, as a string (`field-id`, `max-size`, `max-files`, `instance-id`,
 *   `download-url`). The element reads both.
 * - `on` + the event's name, exactly as dispatched (`onasync-upload-complete`), adds a listener for that
 *   event: these props are typed with the event classes of `async-uploads/client`. `onChange` and
 *   `onInput` are React's own and fire as on a native input.
 * - Edit forms: give the stored file with `defaultValue` (the HTML `value` attribute: kept on form
 *   reset, shown with `filename`, `size` and `download-url`). `value` sets the current value, as the
 *   property does, and then ignores those three.
 * React 18 sets every prop as a string attribute and adds no listeners: use a `ref` there.
 */
import type { DetailedHTMLProps, HTMLAttributes } from "react";
import type { AsyncFileInput } from "../async-file-input/async-file-input.js";
import type {
  AsyncUploadCompleteEvent,
  AsyncUploadErrorEvent,
  AsyncUploadProcessingEvent,
  AsyncUploadProgressEvent,
  AsyncUploadStartEvent,
} from "../async-file-input/events.js";
import type { AsyncDownloadCentre } from "../download-centre/download-centre.js";
import type { AsyncExportButton } from "../download-centre/export-button.js";
import type { AsyncExportChangeEvent, AsyncExportErrorEvent, AsyncExportServedEvent } from "../download-centre/events.js";

/** The props of `<async-file-input>` in React 19 JSX: its attributes and properties, and its events. */
export interface AsyncFileInputAttributes extends HTMLAttributes<AsyncFileInput> {
  /** Form field name; one entry per file (`""` when there is none). */
  name?: string;
  /** The server-side field id (`documents.attachment`). */
  "field-id"?: string;
  /** Where the routes are mounted. Default `/async-uploads`. */
  endpoint?: string;
  /** As on `<input type=file>`: `image/*, application/pdf, .docx`. */
  accept?: string;
  /** Largest file in bytes, checked in the browser; 0 = no check. */
  "max-size"?: number;
  multiple?: boolean;
  /** With `multiple`: most files the field holds (default 10). */
  "max-files"?: number;
  required?: boolean;
  disabled?: boolean;
  /** The record being edited, sent with each upload request. */
  "instance-id"?: string;
  /** The stored key of the existing file (edit forms): the `value` attribute, restored on form reset. */
  defaultValue?: string;
  /** Sets the current value (one key, or `""`), as the `value` property does. */
  value?: string;
  /** The existing file's name (default: the last segment of its key). */
  filename?: string;
  /** The existing file's size in bytes. */
  size?: number;
  /** Where the existing file can be downloaded (an image's thumbnail is loaded from it). */
  "download-url"?: string;
  /** Several existing files (a `multiple` field's edit form), as the property: `[{ key, filename?, size?, downloadUrl? }]`. */
  storedFiles?: AsyncFileInput["storedFiles"];
  /** The server's message after a refused save, shown until the person changes the files. */
  error?: string;
  "onasync-upload-start"?: (event: AsyncUploadStartEvent) => void;
  "onasync-upload-progress"?: (event: AsyncUploadProgressEvent) => void;
  /** The file is in storage; `event.detail.key` is now in the form value. */
  "onasync-upload-complete"?: (event: AsyncUploadCompleteEvent) => void;
  "onasync-upload-error"?: (event: AsyncUploadErrorEvent) => void;
  /** The server's checks of an uploaded file changed (fields with processing steps). */
  "onasync-upload-processing"?: (event: AsyncUploadProcessingEvent) => void;
}

/** With `ref` and `key`. */
export type AsyncFileInputProps = DetailedHTMLProps<AsyncFileInputAttributes, AsyncFileInput>;

/**
 * The props of `<async-download-centre>` (`import "async-uploads/download-centre"` defines it): the
 * person's exports with live progress, cancel, retry, download and clear.
 */
export interface AsyncDownloadCentreAttributes extends HTMLAttributes<AsyncDownloadCentre> {
  /** Where the routes are mounted. Default `/async-uploads`. */
  endpoint?: string;
  /** The list is shown. */
  open?: boolean;
  /** Seconds between list refreshes while an export cannot be followed live. Default 3. */
  "poll-seconds"?: number;
  /** An export appeared or changed status. */
  "onasync-export-change"?: (event: AsyncExportChangeEvent) => void;
  /** Loading the list or an action failed (the message is shown). */
  "onasync-export-error"?: (event: AsyncExportErrorEvent) => void;
}

/** The props of `<async-export-button>`: starts an export with its form's criteria. */
export interface AsyncExportButtonAttributes extends HTMLAttributes<AsyncExportButton> {
  /** The registered export type (`documents.csv`). */
  "export-id"?: string;
  /** Where the routes are mounted. Default `/async-uploads`. */
  endpoint?: string;
  /** JSON criteria, used when the button is in no form. */
  criteria?: string;
  disabled?: boolean;
  /** The file was served at once and handed to the browser. (A queued one: `async-export-start` on `document`.) */
  "onasync-export-served"?: (event: AsyncExportServedEvent) => void;
  "onasync-export-error"?: (event: AsyncExportErrorEvent) => void;
}

/** With `ref` and `key`. */
export type AsyncDownloadCentreProps = DetailedHTMLProps<AsyncDownloadCentreAttributes, AsyncDownloadCentre>;
export type AsyncExportButtonProps = DetailedHTMLProps<AsyncExportButtonAttributes, AsyncExportButton>;

declare module "react" {
  namespace JSX {
    interface IntrinsicElements {
      "async-file-input": AsyncFileInputProps;
      "async-download-centre": AsyncDownloadCentreProps;
      "async-export-button": AsyncExportButtonProps;
    }
  }
}
