import type { ReactiveController, ReactiveControllerHost } from "lit";
import {
  AsyncUploadCompleteEvent,
  AsyncUploadErrorEvent,
  AsyncUploadProcessingEvent,
  AsyncUploadProgressEvent,
  AsyncUploadStartEvent,
} from "./events.js";
import { checkClass, checkText, isBusy, keyOf, nameOf, percentOf, type Entry, type FileCheck, type RowAction, type UploadEntry } from "./file-row.js";
import type { ProcessingController } from "./processing-controller.js";
import { strings } from "./strings.js";
import type { UploadFailure } from "./upload-failure.js";
import type { Upload, UploadEngine, UploadSettings, UploadStatus } from "./upload-engine.js";

// The upload machinery and the following of the server's checks are chunks of their own
// (`import()`), loaded with the first file: a form that nobody adds a file to never downloads them.
// Type-only imports above keep them out of the element's own file.
const loadEngine = () => import("./upload-engine.js");
const loadProcessing = () => import("./processing-controller.js");

/** A file added before the upload engine loaded: shown as waiting, handed to the engine once it has. */
type Waiting = { -readonly [K in keyof Upload]: Upload[K] };

let lastWaitingId = 0;

/** How often progress alone is drawn: often enough to look alive, rarely enough to cost nothing. */
const PROGRESS_RENDER_MS = 250;
/** The least time between two renders of status changes (see `#renderSoon`). */
const STATUS_RENDER_MS = 100;

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
  #engine?: UploadEngine;
  #engineLoading?: Promise<void>;
  /** Files added while the engine loads, handed to it in order once it has. */
  readonly #waiting = new Set<UploadEntry>();
  #processing?: Promise<ProcessingController | null>;
  #frameRequested = false;
  #renderTimer?: ReturnType<typeof setTimeout>;
  #lastRender = 0;
  /** The uploads' steps to announce, said together at the next render (see `#renderSoon`). */
  #toAnnounce: string[] = [];

  constructor(host: UploadListHost, options: UploadListOptions) {
    this.#host = host;
    this.#options = options;
    host.addController(this);
    // Fetched as soon as the person reaches for the field, so that the first file rarely waits for it.
    const prefetch = () => this.#engine || this.#loadEngine();
    for (const type of ["pointerover", "focusin", "dragenter"]) host.addEventListener(type, prefetch, { once: true, passive: true });
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
    const settings = { endpoint, fieldId, instanceId };
    const upload: Upload = this.#engine?.add(file, settings) ?? { id: `waiting-${++lastWaitingId}`, file, settings, status: "queued", loaded: 0 };
    const previewUrl = file.type.startsWith("image/") ? URL.createObjectURL(file) : undefined;
    const entry: UploadEntry = { kind: "upload", id: upload.id, upload, previewUrl, lastPercent: -1 };
    if (!this.#engine) {
      this.#waiting.add(entry);
      this.#loadEngine();
    }
    if (this.#host.multiple) return this.#show([...this.entries, entry]);
    const previous = this.entries[0];
    // A replaced file is out of sight: its checks are followed again only if it comes back (Cancel).
    if (previous && keyOf(previous)) {
      this.#replaced = previous;
      if (previous.kind === "upload") this.#stopChecking(previous);
    }
    else if (previous) this.#forget(previous);
    this.#refocus = this.#host.matches(":focus-within");
    this.#show([entry]);
  }

  /** A row's button other than Replace (which only opens the chooser). */
  act(action: Exclude<RowAction, "replace">, entry: Entry): void {
    if (action === "retry") {
      if (entry.kind === "upload" && entry.check) {
        if (this.#processing) void this.#processing.then((processing) => processing?.retry(entry) || this.#check(entry, true));
        else this.#check(entry, true);
      } else if (entry.kind === "upload" && this.#engine) this.#engine.retry(entry.upload.id);
      else if (entry.kind === "upload") this.#retryWaiting(entry);
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

  /**
   * Renders the uploads' changes at the next frame rather than once per change (several uploads each
   * report every status step), but no sooner than `STATUS_RENDER_MS` after the last render: once per frame,
   * 200 small files six at a time still rendered all their rows some 300 times (the page's main thread was
   * the busiest process of the bench, /proc CPU times: 4.0–5.5 s against 3.3–4.6 s for a plain XHR loop).
   * Progress alone renders at most every `PROGRESS_RENDER_MS`: a bar redrawn on every
   * progress event, with the width transition it had then, kept the page's main thread busy for half of
   * a large upload (a Chromium trace of 100 MiB: ~0.9 s of style, layout and paint, ~35 ms without it),
   * so the bar now steps, with no transition. A hidden page, which has no frames, renders every 100 ms. Events
   * are not delayed; the uploads' announcements (started, uploaded, failed) wait for that render and are said
   * together: each one alone updated the element, all its rows and its form value at once, so 200 small
   * files cost 400 extra renders (a Chromium profile of the bench's 200 files: lit's template updates
   * ~2.1 s of the page's ~7.5 s busy, plus style, layout and paint).
   */
  #renderSoon(progressOnly: boolean): void {
    if (progressOnly) {
      this.#renderTimer ??= setTimeout(this.#render, PROGRESS_RENDER_MS);
    } else if (!this.#frameRequested) {
      this.#frameRequested = true;
      const wait = this.#lastRender + STATUS_RENDER_MS - performance.now();
      if (wait > 0) return void setTimeout(this.#render, wait);
      requestAnimationFrame(this.#render);
      setTimeout(this.#render, 100);
    }
  }

  #render = (): void => {
    if (!this.#frameRequested && this.#renderTimer === undefined) return;
    this.#frameRequested = false;
    clearTimeout(this.#renderTimer);
    this.#renderTimer = undefined;
    this.#lastRender = performance.now();
    if (this.#toAnnounce.length) this.#options.announce(this.#toAnnounce.join(" "));
    this.#toAnnounce = [];
    this.#host.requestUpdate();
  };

  #show(entries: readonly Entry[]): void {
    this.entries = entries;
    this.#host.requestUpdate();
  }

  /** Stops following the checks of every file (the element left the page); connecting again follows them again. */
  hostDisconnected(): void {
    for (const entry of this.entries) if (entry.kind === "upload") this.#stopChecking(entry);
  }

  /** Loads the upload engine (once; again after a failed load), then starts the files that waited for it. */
  #loadEngine(): void {
    this.#engineLoading ??= loadEngine().then(
      ({ UploadEngine }) => {
        const engine = (this.#engine = new UploadEngine({ onChange: (upload, previous) => this.#onUploadChange(upload, previous) }));
        for (const entry of this.#waiting) entry.upload = engine.add(entry.upload.file, entry.upload.settings);
        this.#waiting.clear();
      },
      () => {
        // Offline, or the page's files were replaced by a new deployment: the waiting files fail as a
        // lost connection would, and Retry loads again.
        this.#engineLoading = undefined;
        for (const entry of this.#waiting) {
          const waiting = entry.upload as Waiting;
          waiting.status = "failed";
          // The strings and events read only the code: the class itself is in the chunk that did not load.
          waiting.failure = { code: "network_error", transient: true } as UploadFailure;
          this.#onUploadChange(waiting, "queued");
        }
        this.#waiting.clear();
      },
    );
  }

  /** Retry of a file whose upload failed because the engine did not load. */
  #retryWaiting(entry: UploadEntry): void {
    const waiting = entry.upload as Waiting;
    if (waiting.status !== "failed") return;
    Object.assign(waiting, { status: "queued", failure: undefined });
    this.#waiting.add(entry);
    this.#host.requestUpdate();
    this.#loadEngine();
  }

  /** The processing controller, loaded with the first file whose field declares processing steps; null when it did not load. */
  #withProcessing(): Promise<ProcessingController | null> {
    const loading = (this.#processing ??= loadProcessing().then(
      ({ ProcessingController }) => new ProcessingController({ onChange: (entry, previous) => this.#onCheckChange(entry, previous) }),
      () => {
        this.#processing = undefined;
        return null;
      },
    ));
    return loading;
  }

  #stopChecking(entry: UploadEntry): void {
    void this.#processing?.then((processing) => processing?.stop(entry));
  }

  hostConnected(): void {
    for (const entry of this.entries) this.#check(entry);
  }

  /** Stops an entry's upload (and the following of its checks) and frees its preview. */
  #forget(entry: Entry): void {
    if (entry.kind !== "upload") return;
    this.#stopChecking(entry);
    this.#waiting.delete(entry);
    this.#engine?.cancel(entry.upload.id);
    if (entry.previewUrl) URL.revokeObjectURL(entry.previewUrl);
  }

  #onUploadChange(upload: Upload, previous: UploadStatus): void {
    const entry = this.entries.find((candidate): candidate is UploadEntry => candidate.kind === "upload" && candidate.upload === upload);
    if (!entry || upload.status === "canceled") return;
    this.#renderSoon(upload.status === "uploading" && previous === "uploading");
    const { id, file } = upload;
    const host = this.#host;
    if (upload.status === "requesting") {
      entry.lastPercent = -1;
      if (previous === "queued") {
        host.dispatchEvent(new AsyncUploadStartEvent({ id, file }));
        this.#toAnnounce.push(strings.announceStarted(file.name));
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
      this.#toAnnounce.push(strings.announceUploaded(file.name));
      this.#check(entry);
      this.#options.changed(true);
    } else if (upload.status === "failed" && previous !== "failed" && upload.failure) {
      const message = strings.uploadError(upload.failure);
      const { code, status } = upload.failure;
      host.dispatchEvent(new AsyncUploadErrorEvent({ id, file, code, message, ...(status ? { status } : {}) }));
      this.#toAnnounce.push(strings.announceFailed(file.name, message));
      this.#options.changed(false);
    }
  }

  /** Follows the server's checks of an uploaded file whose field declares processing steps (unless already). */
  #check(entry: Entry, again = false): void {
    if (entry.kind !== "upload" || entry.upload.status !== "done" || !entry.upload.processing || !entry.upload.key) return;
    if (!again && entry.check && checkClass(entry.check) !== "checking") return;
    const { settings, key, processing: plan } = entry.upload;
    void this.#withProcessing().then((processing) => {
      // Removed, replaced or disconnected meanwhile: `stop` ran before the controller existed.
      if (!this.entries.includes(entry)) return;
      if (processing) return processing.start(entry, settings.endpoint, key, plan);
      const previous = entry.check ?? { state: "uploaded", label: null, reason: null };
      entry.check = { state: "failed", label: null, reason: null };
      this.#onCheckChange(entry, previous);
    });
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
