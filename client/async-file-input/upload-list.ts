import type { ReactiveController, ReactiveControllerHost } from "lit";
import {
  AsyncUploadCompleteEvent,
  AsyncUploadErrorEvent,
  AsyncUploadProcessingEvent,
  AsyncUploadProgressEvent,
  AsyncUploadStartEvent,
} from "./events.js";
import { checkClass, checkText, isBusy, keyOf, nameOf, percentOf, type Entry, type FileCheck, type RowAction, type UploadEntry } from "./file-row.js";
import { ProcessingController } from "./processing-controller.js";
import { strings } from "./strings.js";
import { UploadEngine, type Upload, type UploadSettings, type UploadStatus } from "./upload-engine.js";

/** The element: where uploads are asked for (read when each starts), and whether it holds several files. */
export type UploadListHost = ReactiveControllerHost & HTMLElement & UploadSettings & { multiple: boolean };

export interface UploadListOptions {
  /** Says something to screen readers. */
  announce(text: string): void;
  /** The form value may have changed; `byPerson` when the person did it (an upload landed, a file was removed). */
  changed(byPerson: boolean): void;
}

/** What the browser keeps of the field to restore it (`formStateRestoreCallback`). */
export interface SavedFile {
  key: string;
  name: string;
  size?: number;
}

/**
 * The field's files: stored ones and uploads, the file a running replacement will replace, and the
 * translation of the engine's changes into the element's events and announcements. The element renders
 * `entries` and hands `keys` to the form.
 */
export class UploadList implements ReactiveController {
  /** The rows, in order. Read only: `set`, `add` and `act` change it. */
  entries: readonly Entry[] = [];
  /** Single-file fields: the file a running replacement will replace, kept until that one lands. */
  #replaced: Entry | undefined;
  #refocus = false;
  readonly #host: UploadListHost;
  readonly #options: UploadListOptions;
  readonly #engine = new UploadEngine({ onChange: (upload, previous) => this.#onUploadChange(upload, previous) });
  readonly #processing = new ProcessingController({ onChange: (entry, previous) => this.#onCheckChange(entry, previous) });

  constructor(host: UploadListHost, options: UploadListOptions) {
    this.#host = host;
    this.#options = options;
    host.addController(this);
  }

  /** A row that had focus went away (replaced, canceled, removed): focus moves to the next control. */
  hostUpdated(): void {
    if (!this.#refocus) return;
    this.#refocus = false;
    this.#host.shadowRoot?.querySelector<HTMLElement>(".choose, .action")?.focus();
  }

  /** Every key in the form value; a replaced file's key until its replacement lands. */
  get keys(): string[] {
    const keys = this.entries.flatMap((entry) => keyOf(entry) || []);
    const kept = this.#replaced && keyOf(this.#replaced);
    return keys.length === 0 && kept ? [kept] : keys;
  }

  /** True while any upload runs or waits. */
  get busy(): boolean {
    return this.entries.some(isBusy);
  }

  get failed(): boolean {
    return this.entries.some((entry) => entry.kind === "upload" && entry.upload.status === "failed");
  }

  /** The first uploaded file the server has not passed (checking, rejected or not checked), if any. */
  get unchecked(): { name: string; check: FileCheck } | undefined {
    for (const entry of this.entries) {
      if (entry.kind === "upload" && entry.check && entry.check.state !== "passed") return { name: nameOf(entry), check: entry.check };
    }
    return undefined;
  }

  /** The files whose keys are in the form value, for the browser to restore. */
  get saved(): SavedFile[] {
    return this.entries.flatMap((entry) => {
      const key = keyOf(entry);
      return key ? [{ key, name: nameOf(entry), size: entry.kind === "stored" ? entry.size : entry.upload.file.size }] : [];
    });
  }

  /** Stops every upload and shows `entries` instead (value set, form reset, state restored). */
  set(entries: Entry[]): void {
    for (const entry of this.entries) this.#forget(entry);
    this.#replaced = undefined;
    this.#show(entries);
  }

  /** Starts uploading a file that passed the checks. */
  add(file: File): void {
    const { endpoint, fieldId, instanceId } = this.#host;
    const upload = this.#engine.add(file, { endpoint, fieldId, instanceId });
    const previewUrl = file.type.startsWith("image/") ? URL.createObjectURL(file) : undefined;
    const entry: UploadEntry = { kind: "upload", id: upload.id, upload, previewUrl, lastPercent: -1 };
    if (this.#host.multiple) return this.#show([...this.entries, entry]);
    const previous = this.entries[0];
    // A replaced file is out of sight: its checks are followed again only if it comes back (Cancel).
    if (previous && keyOf(previous)) {
      this.#replaced = previous;
      if (previous.kind === "upload") this.#processing.stop(previous);
    }
    else if (previous) this.#forget(previous);
    this.#refocus = this.#host.matches(":focus-within");
    this.#show([entry]);
  }

  /** A row's button other than Replace (which only opens the chooser). */
  act(action: Exclude<RowAction, "replace">, entry: Entry): void {
    if (action === "retry") {
      if (entry.kind === "upload" && entry.check) {
        if (!this.#processing.retry(entry)) this.#check(entry, true);
      } else if (entry.kind === "upload") this.#engine.retry(entry.upload.id);
      return;
    }
    this.#refocus = this.#host.matches(":focus-within");
    this.#forget(entry);
    let remaining = this.entries.filter((other) => other !== entry);
    // Canceling a replacement brings the replaced file back; removing a finished one clears the field.
    if (!this.#host.multiple && this.#replaced && !keyOf(entry)) {
      remaining = [this.#replaced];
      this.#check(this.#replaced);
    }
    this.#replaced = undefined;
    this.#show(remaining);
    this.#options.announce((action === "cancel" ? strings.announceCanceled : strings.announceRemoved)(nameOf(entry)));
    this.#options.changed(true);
  }

  /** A thumbnail loaded or failed: an object URL is freed, and a failed one gives way to the file icon. */
  previewEnded = (entry: Entry, loaded: boolean): void => {
    if (entry.kind === "upload" && entry.previewUrl) URL.revokeObjectURL(entry.previewUrl);
    if (loaded) return;
    entry.previewUrl = undefined;
    this.#host.requestUpdate();
  };

  #show(entries: readonly Entry[]): void {
    this.entries = entries;
    this.#host.requestUpdate();
  }

  /** Stops following the checks of every file (the element left the page); connecting again follows them again. */
  hostDisconnected(): void {
    for (const entry of this.entries) if (entry.kind === "upload") this.#processing.stop(entry);
  }

  hostConnected(): void {
    for (const entry of this.entries) this.#check(entry);
  }

  /** Stops an entry's upload (and the following of its checks) and frees its preview. */
  #forget(entry: Entry): void {
    if (entry.kind !== "upload") return;
    this.#processing.stop(entry);
    this.#engine.cancel(entry.upload.id);
    if (entry.previewUrl) URL.revokeObjectURL(entry.previewUrl);
  }

  #onUploadChange(upload: Upload, previous: UploadStatus): void {
    const entry = this.entries.find((candidate): candidate is UploadEntry => candidate.id === upload.id);
    if (!entry || upload.status === "canceled") return;
    this.#host.requestUpdate();
    const { id, file } = upload;
    const host = this.#host;
    if (upload.status === "requesting") {
      entry.lastPercent = -1;
      if (previous === "queued") {
        host.dispatchEvent(new AsyncUploadStartEvent({ id, file }));
        this.#options.announce(strings.announceStarted(file.name));
      }
    }
    const percent = percentOf(upload);
    if ((upload.status === "uploading" || upload.status === "done") && percent > entry.lastPercent) {
      entry.lastPercent = percent;
      host.dispatchEvent(new AsyncUploadProgressEvent({ id, file, loaded: upload.loaded, total: file.size, percent }));
    }
    if (upload.status === "done" && previous !== "done") {
      this.#replaced = undefined;
      host.dispatchEvent(new AsyncUploadCompleteEvent({ id, file, key: upload.key ?? "" }));
      this.#options.announce(strings.announceUploaded(file.name));
      this.#check(entry);
      this.#options.changed(true);
    } else if (upload.status === "failed" && previous !== "failed" && upload.failure) {
      const message = strings.uploadError(upload.failure);
      const { code, status } = upload.failure;
      host.dispatchEvent(new AsyncUploadErrorEvent({ id, file, code, message, ...(status ? { status } : {}) }));
      this.#options.announce(strings.announceFailed(file.name, message));
      this.#options.changed(false);
    }
  }

  /** Follows the server's checks of an uploaded file whose field declares processing steps (unless already). */
  #check(entry: Entry, again = false): void {
    if (entry.kind !== "upload" || entry.upload.status !== "done" || !entry.upload.processing || !entry.upload.key) return;
    if (!again && entry.check && checkClass(entry.check) !== "checking") return;
    this.#processing.start(entry, entry.upload.settings.endpoint, entry.upload.key, entry.upload.processing);
  }

  #onCheckChange(entry: UploadEntry, previous: FileCheck): void {
    const check = entry.check!;
    this.#host.requestUpdate();
    const { id, file, key = "" } = entry.upload;
    this.#host.dispatchEvent(new AsyncUploadProcessingEvent({ id, file, key, ...check }));
    const text = checkText(check);
    if (text !== checkText(previous) || check.reason !== previous.reason) {
      this.#options.announce(strings.announceCheck(file.name, text, check.reason));
    }
    this.#options.changed(false);
  }
}
