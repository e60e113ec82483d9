import { html, nothing, type LitElement, type TemplateResult } from "lit";
import { AsyncUploadErrorEvent } from "./events.js";
import type { Entry, FileCheck, RowOptions, StoredFile } from "./file-row.js";
import { strings } from "./strings.js";
import type { UploadFailureInfo } from "./upload-failure.js";
import type { SavedFile, UploadList, UploadListHost, UploadListOptions } from "./upload-list.js";
import type { FileState } from "./validity.js";

// The rows, their styles and the upload list are a chunk of their own, loaded when the field first
// holds a file (or as soon as the person reaches for it): the empty field renders without it. The
// checks of a chosen file stay here, so that a refusal shows at once. Type-only imports above keep the
// chunk's modules out of the element's own file.
const loadFileList = () => import("./file-list.js");
type FileListChunk = Awaited<ReturnType<typeof loadFileList>>;

/** Why added files wait in vain when the chunk did not load: as a lost connection (Retry loads it again). */
const NOT_LOADED: UploadFailureInfo = { code: "network_error" };

/**
 * The element's files, answering at once whether or not the file list's chunk has loaded. Until it has,
 * the stored files (edit forms) and the files added meanwhile are kept here, in order, and the form
 * value, validity (an added file waits as an upload waits for its turn) and saved state are worked out
 * from them; once it has, they are handed to the `UploadList` and every question goes to it. If the
 * chunk cannot be loaded (offline, or a new deployment replaced the files), the added files show as
 * failed uploads with Retry, which loads it again.
 */
export class LazyFileList implements FileState {
  #chunk?: FileListChunk;
  #list?: UploadList;
  #loading?: Promise<void>;
  #loadFailed = false;
  #stored: StoredFile[] = [];
  #added: File[] = [];
  readonly #host: UploadListHost & LitElement;
  readonly #options: UploadListOptions;

  constructor(host: UploadListHost & LitElement, options: UploadListOptions) {
    this.#host = host;
    this.#options = options;
    // Fetched as soon as the person reaches for the field, so that the first file rarely waits for it.
    const prefetch = () => this.#load();
    for (const type of ["pointerover", "focusin", "dragenter"]) host.addEventListener(type, prefetch, { once: true, passive: true });
  }

  /** How many files the field holds (rows, once the chunk has loaded). */
  get count(): number {
    return this.#list ? this.#list.entries.length : this.#stored.length + this.#added.length;
  }

  get keys(): string[] {
    return this.#list ? this.#list.keys : this.#stored.map((file) => file.key);
  }

  get busy(): boolean {
    return this.#list ? this.#list.busy : this.#added.length > 0 && !this.#loadFailed;
  }

  get failed(): boolean {
    return this.#list ? this.#list.failed : this.#added.length > 0 && this.#loadFailed;
  }

  get unchecked(): { name: string; check: FileCheck } | undefined {
    return this.#list?.unchecked;
  }

  get saved(): SavedFile[] {
    return this.#list ? this.#list.saved : this.#stored.map((file) => ({ key: file.key, name: nameOf(file), size: file.size }));
  }

  /** Stops every upload and shows these stored files instead (value set, form reset, state restored). */
  set(files: StoredFile[]): void {
    if (this.#chunk) return this.#list!.set(files.map(this.#chunk.storedEntry));
    this.#stored = files;
    this.#added = [];
    if (files.length) this.#load();
    this.#host.requestUpdate();
  }

  /** Starts uploading a file that passed the checks. */
  add(file: File): void {
    if (this.#list) return this.#list.add(file);
    this.#added.push(file);
    if (this.#loadFailed) this.#failAdded([file]);
    else this.#load();
    this.#host.requestUpdate();
  }

  /** A row's button other than Replace. */
  act(action: "cancel" | "retry" | "remove", entry: Entry): void {
    this.#list?.act(action, entry);
  }

  /** The rows; until the chunk has loaded, none, or the files added while it could not load, with Retry. */
  render(options: Omit<RowOptions, "onPreviewEnd">): TemplateResult | typeof nothing {
    if (this.#chunk) return this.#chunk.renderFileList(this.#host, this.#list!, { ...options, onPreviewEnd: this.#list!.previewEnded });
    if (!this.#loadFailed) return nothing;
    const message = strings.uploadError(NOT_LOADED);
    return html`<ul part="file-list" class="files" role="list">
      ${this.#added.map(
        (file) => html`<li part="file" class="file failed">
          <span part="filename" class="name">${file.name}</span>
          <span part="error" class="error">${message}</span>
          <button type="button" part="button retry-button" class="action" aria-label=${strings.retryLabel(file.name)}
            ?disabled=${options.disabled} @click=${() => this.#load()}>${strings.retry}</button>
        </li>`,
      )}
    </ul>`;
  }

  /** Loads the chunk (once; again after a failed load, by Retry), then hands it the files kept meanwhile. */
  #load(): void {
    this.#loading ??= loadFileList().then(
      (chunk) => {
        this.#chunk = chunk;
        // From here on every question goes to the list (each of these renders).
        const list = (this.#list = new chunk.UploadList(this.#host, this.#options));
        list.set(this.#stored.map(chunk.storedEntry));
        for (const file of this.#added) list.add(file);
      },
      () => {
        this.#loading = undefined;
        this.#loadFailed = true;
        this.#failAdded(this.#added);
        this.#host.requestUpdate();
      },
    );
  }

  /** Tells of added files that cannot be uploaded because the chunk did not load, as the upload list tells of a failed upload. */
  #failAdded(files: File[]): void {
    const message = strings.uploadError(NOT_LOADED);
    for (const file of files) {
      this.#host.dispatchEvent(new AsyncUploadErrorEvent({ file, code: NOT_LOADED.code, message }));
      this.#options.announce(strings.announceFailed(file.name, message));
    }
    this.#options.changed(false);
  }
}

function nameOf(file: StoredFile): string {
  return file.filename || file.key.slice(file.key.lastIndexOf("/") + 1);
}
