import { html, nothing, svg, type TemplateResult } from "lit";
import { styleMap } from "lit/directives/style-map.js";
import type { ProcessingStateName } from "../../shared/processing.js";
import { strings } from "./strings.js";
import type { Upload } from "./upload-engine.js";

/** A file that was stored before this page loaded (edit forms), or restored by the browser. */
export interface StoredEntry {
  kind: "stored";
  id: string;
  key: string;
  name: string;
  size?: number;
  downloadUrl?: string;
  /** The download URL again when the name says image, for the thumbnail; dropped if it does not load. */
  previewUrl?: string;
}

/** How a page describes a stored file: the `value`, `filename`, `size` and `download-url` attributes, or one item of `stored-files`. */
export interface StoredFile {
  key: string;
  /** Default: the last segment of the key. */
  filename?: string;
  size?: number;
  downloadUrl?: string;
}

/**
 * Where the server's checks of an uploaded file are (fields with processing steps): `uploaded` until the
 * server first answers, then its state; `failed` also when this page could not follow the checks.
 */
export interface FileCheck {
  state: "uploaded" | ProcessingStateName;
  /** The running or last step's label. */
  label: string | null;
  /** Why it was rejected, or why it could not be checked (shown as is). */
  reason: string | null;
}

/** A file chosen on this page. */
export interface UploadEntry {
  kind: "upload";
  id: string;
  upload: Upload;
  /** Object URL of an image, revoked as soon as the thumbnail has loaded (or failed to). */
  previewUrl?: string;
  /** Last percent sent in a progress event, so events only rise. */
  lastPercent: number;
  /** The server's checks, once uploaded, when the field declares processing steps. */
  check?: FileCheck;
}

export type Entry = StoredEntry | UploadEntry;

export type RowAction = "cancel" | "retry" | "remove" | "replace";

export interface RowOptions {
  disabled: boolean;
  /** Single-file fields offer Replace; multiple ones add files through the drop zone. */
  replaceable: boolean;
  onAction(action: RowAction, entry: Entry): void;
  /** The thumbnail loaded, or (`loaded` false) did not: the row then shows the file icon. */
  onPreviewEnd(entry: Entry, loaded: boolean): void;
}

const fileIcon = svg`<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true"><path d="M14 3H6v18h12V7z"/><path d="M14 3v4h4"/></svg>`;

/** Whether the entry's upload still runs (or waits its turn). */
export function isBusy(entry: Entry): boolean {
  const status = entry.kind === "upload" ? entry.upload.status : "stored";
  return status === "queued" || status === "requesting" || status === "uploading" || status === "retrying";
}

/** The key the entry puts in the form, if any. */
export function keyOf(entry: Entry): string | undefined {
  return entry.kind === "stored" ? entry.key : entry.upload.status === "done" ? entry.upload.key : undefined;
}

export function nameOf(entry: Entry): string {
  return entry.kind === "stored" ? entry.name : entry.upload.file.name;
}

/** The row's class for a check: `checking`, `ready`, `rejected`, or `unchecked` (could not be checked). */
export function checkClass(check: FileCheck): string {
  return check.state === "passed" ? "ready" : check.state === "rejected" ? "rejected" : check.state === "failed" ? "unchecked" : "checking";
}

/** What the row says of a check (and what is announced). */
export function checkText(check: FileCheck): string {
  const name = checkClass(check);
  return name === "ready" ? strings.ready
    : name === "rejected" ? strings.rejected
    : name === "unchecked" ? strings.checkFailed
    : check.state === "uploaded" ? strings.uploaded
    : strings.checking(check.label);
}

export function percentOf(upload: Upload): number {
  return upload.file.size ? Math.floor((upload.loaded / upload.file.size) * 100) : 100;
}

// What an <img> shows in every browser. Other stored files keep the icon: no large download for nothing.
const IMAGE_NAME = /\.(avif|bmp|gif|jpe?g|png|svg|webp)$/i;

/** The entry of a stored file; its thumbnail comes from the download URL when its name says image. */
export function storedEntry({ key, filename, size, downloadUrl }: StoredFile): StoredEntry {
  const name = filename || key.slice(key.lastIndexOf("/") + 1);
  const previewUrl = downloadUrl && IMAGE_NAME.test(name) ? downloadUrl : undefined;
  return { kind: "stored", id: `stored:${key}`, key, name, size, ...(downloadUrl ? { downloadUrl, previewUrl } : {}) };
}

/**
 * Each entry's last row and what it showed. Every change of any upload renders the whole list, so with
 * many files most rows are unchanged: those give Lit the same template result back instead of being
 * built again (a profile of 200 files put most of the page's main-thread time in building rows).
 */
const lastRows = new WeakMap<Entry, { shown: unknown[]; row: TemplateResult }>();

/** Everything a row shows, compared by identity (strings too: `setStrings` replaces the object). */
function shownBy(entry: Entry, options: RowOptions): unknown[] {
  const upload = entry.kind === "upload" ? entry.upload : undefined;
  const check = entry.kind === "upload" ? entry.check : undefined;
  return [
    strings, options.disabled, options.replaceable, options.onAction, options.onPreviewEnd, entry.previewUrl,
    upload?.status, upload && percentOf(upload), upload?.failure, check?.state, check?.label, check?.reason,
  ];
}

/** One file: thumbnail, name (a download link when stored), size and state, progress, actions. */
export function renderFileRow(entry: Entry, options: RowOptions): TemplateResult {
  const shown = shownBy(entry, options);
  const last = lastRows.get(entry);
  if (last && last.shown.every((value, i) => value === shown[i])) return last.row;
  const row = buildFileRow(entry, options);
  lastRows.set(entry, { shown, row });
  return row;
}

function buildFileRow(entry: Entry, options: RowOptions): TemplateResult {
  const upload = entry.kind === "upload" ? entry.upload : undefined;
  const status = upload?.status ?? "stored";
  const name = nameOf(entry);
  const size = upload ? upload.file.size : entry.kind === "stored" ? entry.size : undefined;
  const busy = isBusy(entry);
  const percent = upload ? percentOf(upload) : 100;
  const check = entry.kind === "upload" && status === "done" ? entry.check : undefined;
  const checked = check ? checkClass(check) : "";
  const invalid = checked === "rejected" || checked === "unchecked";
  const state =
    check ? checkText(check)
    : status === "uploading" ? `${percent}%`
    : status === "retrying" ? strings.retrying
    : busy ? strings.waiting
    : status === "done" ? strings.uploaded
    : status === "failed" ? strings.failed
    : strings.stored;
  const sizeText = size === undefined ? "" : strings.formatSize(size);
  const button = (action: RowAction, text: string, label: string) =>
    html`<button type="button" part="button ${action}-button" class="action" aria-label=${label}
      ?disabled=${options.disabled} @click=${() => options.onAction(action, entry)}>${text}</button>`;

  return html`<li part="file" class="file ${status} ${checked} ${invalid ? "invalid" : ""}">
    ${entry.previewUrl
      ? html`<img part="thumbnail" class="thumb" src=${entry.previewUrl} alt=""
          @load=${() => options.onPreviewEnd(entry, true)} @error=${() => options.onPreviewEnd(entry, false)} />`
      : html`<span part="thumbnail" class="thumb">${fileIcon}</span>`}
    <div class="info">
      <span part="filename" class="name"
        >${entry.kind === "stored" && entry.downloadUrl ? html`<a href=${entry.downloadUrl}>${name}</a>` : name}</span
      >
      <span part="details" class="details"
        >${sizeText}${sizeText && state ? " · " : ""}${state ? html`<span part="state">${state}</span>` : nothing}</span
      >
      ${status === "failed" && upload?.failure
        ? html`<span part="error" class="error">${strings.uploadError(upload.failure)}</span>`
        : invalid && check?.reason
          ? html`<span part="error" class="error">${check.reason}</span>`
          : nothing}
      ${busy
        ? html`<div part="progress" class="progress" role="progressbar" aria-label=${strings.progressLabel(name)}
            aria-valuemin="0" aria-valuemax="100" aria-valuenow=${percent}>
            <div part="progress-bar" class="bar" style=${styleMap({ width: `${percent}%` })}></div>
          </div>`
        : nothing}
    </div>
    <div class="actions">
      ${status === "failed" || checked === "unchecked"
        ? button("retry", strings.retry, (check ? strings.checkAgainLabel : strings.retryLabel)(name))
        : options.replaceable && !busy
          ? button("replace", strings.replace, strings.replaceLabel(name))
          : nothing}
      ${busy ? button("cancel", strings.cancel, strings.cancelLabel(name)) : button("remove", strings.remove, strings.removeLabel(name))}
    </div>
  </li>`;
}
