import { LitElement, html, nothing, svg, type PropertyDeclarations, type PropertyValues, type TemplateResult } from "lit";
import { styles } from "./async-file-input.styles.js";
import { AsyncUploadErrorEvent } from "./events.js";
import { DropController } from "./drop-controller.js";
import { FormControl } from "./form-control.js";
import { parseAccept, sortSelection } from "./file-checks.js";
import type { Entry, RowAction, StoredFile } from "./file-row.js";
import { LazyFileList } from "./lazy-file-list.js";
import { onStringsChange, strings } from "./strings.js";
import type { SavedFile } from "./upload-list.js";
import { applyValidity } from "./validity.js";

const uploadIcon = svg`<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" aria-hidden="true"><path d="M12 15V4m-5 5 5-5 5 5M4 15v4h16v-4"/></svg>`;

/** At most this many refusal messages are listed; the rest are counted. */
const MAX_MESSAGES = 5;

/**
 * A file field that uploads straight to storage while the form is being filled in; the form submits
 * only the key the server issued. Works in a plain `<form>`: it is form-associated, resets, disables
 * and validates like a native input, and blocks submission while an upload runs or has failed.
 *
 * @tag async-file-input
 *
 * @attr name - Form field name; one entry per file (`""` when there is none).
 * @attr field-id - The server-side field id (`documents.attachment`).
 * @attr endpoint - Where the routes are mounted. Default `/async-uploads`.
 * @attr accept - As on `<input type=file>`: `image/*, application/pdf, .docx`. Checked at once.
 * @attr max-size - Largest file in bytes; checked at once. 0 = no check in the browser.
 * @attr multiple - Holds several files (`max-files`, default 10).
 * @attr required - A file must be present.
 * @attr disabled - Also when inside a disabled `<fieldset>`.
 * @attr instance-id - The record being edited, sent with each upload request.
 * @attr value - The stored key of an existing file (edit forms); form reset returns to it.
 * @attr filename - The existing file's name (default: the last segment of `value`).
 * @attr size - The existing file's size in bytes.
 * @attr download-url - Where the existing file can be downloaded (an image's thumbnail is loaded from it).
 * @attr stored-files - Several existing files (a `multiple` field's edit form), as JSON:
 *   `[{"key": "…", "filename": "a.png", "size": 1234, "downloadUrl": "/…"}]`; only `key` is required. Shown
 *   after the file of `value`, if any; form reset returns to them.
 * @attr error - The server's message about this field after a refused save. Shown until the person changes
 *   the files (form reset shows it again); it does not block submission.
 *
 * @slot hint - Replaces the line that states the accepted types and sizes.
 *
 * @event async-upload-start - `AsyncUploadStartEvent`: an upload begins (or is retried).
 * @event async-upload-progress - `AsyncUploadProgressEvent`: bytes were sent.
 * @event async-upload-complete - `AsyncUploadCompleteEvent`: the key is in the form value.
 * @event async-upload-error - `AsyncUploadErrorEvent`: a file was refused or its upload failed.
 * @event async-upload-processing - `AsyncUploadProcessingEvent`: the server's checks of an uploaded file
 *   changed (fields with processing steps): `uploaded` → `queued` → `running` (each step's `label`) →
 *   `passed`, `rejected` (with `reason`) or `failed`. The form is invalid until every file passed or is removed.
 * @event input - The form value changed.
 * @event change - The form value changed (after `input`), as on a native input.
 *
 * @csspart base - The wrapper.
 * @csspart drop-zone - The area that takes clicks and shows the drop target.
 * @csspart choose-button - The button in it that opens the file chooser.
 * @csspart file-list - The list of files.
 * @csspart file - One file.
 * @csspart thumbnail - Image preview, or the file icon.
 * @csspart filename - The name (a download link for an existing file).
 * @csspart details - Size and state.
 * @csspart state - The state in it ("Uploaded", "Scanning for viruses…", "Ready", "Rejected", …); the row's
 *   class says it too: `checking`, `ready`, `rejected` or `unchecked` (and `invalid` for the last two).
 * @csspart error - Why an upload failed, or why the server rejected the file.
 * @csspart progress - The progress track (`role="progressbar"`).
 * @csspart progress-bar - Its fill.
 * @csspart button - Every row action; each also has `cancel-button`, `retry-button`, `remove-button` or `replace-button`.
 * @csspart message - Why chosen files were not added, or the `error` attribute's message.
 *
 * @cssproperty --async-file-input-accent - Progress, focus ring, links, the choose button.
 * @cssproperty --async-file-input-color - Text.
 * @cssproperty --async-file-input-muted-color - Secondary text.
 * @cssproperty --async-file-input-background - Drop zone and file rows.
 * @cssproperty --async-file-input-hover-background - Hover and drag-over.
 * @cssproperty --async-file-input-border-color - Borders.
 * @cssproperty --async-file-input-track-color - Progress track and icon tiles.
 * @cssproperty --async-file-input-danger-color - Errors.
 * @cssproperty --async-file-input-success-color - "Uploaded".
 * @cssproperty --async-file-input-radius - Corner radius.
 *
 * Colours are light or dark as the page's `color-scheme` says (light unless it declares `dark` or `light dark`);
 * set `color-scheme` on the element, or the custom properties, to choose otherwise.
 */
export class AsyncFileInput extends FormControl {
  static override styles = styles;
  static override shadowRootOptions: ShadowRootInit = { ...LitElement.shadowRootOptions, delegatesFocus: true };

  /** Lit's reactive properties; a map rather than decorators, which compile to a helper call each. */
  static override properties: PropertyDeclarations = {
    name: { reflect: true },
    fieldId: { attribute: "field-id" },
    endpoint: {},
    accept: {},
    maxSize: { attribute: "max-size", type: Number },
    multiple: { type: Boolean, reflect: true },
    maxFiles: { attribute: "max-files", type: Number },
    required: { type: Boolean, reflect: true },
    instanceId: { attribute: "instance-id" },
    defaultValue: { attribute: "value" },
    filename: {},
    size: { type: Number },
    downloadUrl: { attribute: "download-url" },
    storedFiles: { attribute: "stored-files", type: Array },
    error: {},
    messages: { state: true },
    announcement: { state: true },
  };

  name = "";
  fieldId = "";
  endpoint = "/async-uploads";
  accept = "";
  maxSize = 0;
  multiple = false;
  maxFiles = 10;
  required = false;
  instanceId = "";
  /** The `value` attribute: the existing file's key, restored on form reset. */
  defaultValue = "";
  filename = "";
  size?: number;
  downloadUrl = "";
  /** The `stored-files` attribute: existing files beside the one of `value`, restored on form reset. */
  storedFiles: StoredFile[] = [];
  error = "";

  private messages: string[] = [];
  private announcement = "";

  readonly #drop = new DropController(this, {
    disabled: () => this.isDisabled,
    take: (files, folders) => this.#addFiles(files, folders),
  });
  readonly #files = new LazyFileList(this, {
    announce: (text) => this.#announce(text),
    changed: (byPerson) => {
      this.#dirty ||= byPerson;
      // Listeners of `input` and `change` read the new value, so it is handed to the form first.
      if (!this.#syncForm() || !byPerson) return;
      this.dispatchEvent(new Event("input", { bubbles: true, composed: true }));
      this.dispatchEvent(new Event("change", { bubbles: true }));
    },
  });
  /** Set once the person changed something; until then the existing-file attributes rule. */
  #dirty = false;
  /** The form value last handed to the form, keys joined by newlines. */
  #syncedValue = "";
  #stopStrings?: () => void;

  /** The first key in the form value, or `""`; setting it shows that key as an existing file. */
  get value(): string {
    return this.values[0] ?? "";
  }
  set value(key: string) {
    this.#dirty = true;
    this.#files.set(key ? [{ key }] : []);
    this.#syncForm();
  }
  /** Every key in the form value. */
  get values(): string[] {
    return this.#files.keys;
  }
  /** True while any upload runs or waits. */
  get uploading(): boolean {
    return this.#files.busy;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.#stopStrings = onStringsChange(() => this.requestUpdate());
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.#stopStrings?.();
  }

  formResetCallback(): void {
    this.#dirty = false;
    this.messages = [];
    this.#files.set(this.#defaultEntries());
    this.#syncForm();
  }

  formStateRestoreCallback(saved: unknown, reason: "restore" | "autocomplete"): void {
    if (reason !== "restore" || typeof saved !== "string") return;
    try {
      const files = JSON.parse(saved) as SavedFile[];
      this.#dirty = true;
      this.#files.set(files.map((file) => ({ key: file.key, filename: file.name, size: file.size })));
      this.#syncForm();
    } catch {
      // A state written by an older version of this element: keep the defaults.
    }
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    const existing = ["defaultValue", "filename", "size", "downloadUrl", "storedFiles"] as const;
    if (!this.#dirty && (!this.hasUpdated || existing.some((name) => changed.has(name)))) this.#files.set(this.#defaultEntries());
  }

  protected override updated(): void {
    this.#syncForm();
  }

  protected override render(): TemplateResult {
    const disabled = this.isDisabled;
    const count = this.#files.count;
    // The server's error describes the files the page came with, so it goes once the person changes them.
    const messages = this.#dirty || !this.error ? this.messages : [this.error];
    const label = [...(this.internals.labels ?? [])].map((node) => node.textContent?.trim()).filter(Boolean).join(" ");
    const call = this.#drop.dragging ? strings.dropHere : strings.chooseOrDrop(this.multiple);
    const limits = { accept: parseAccept(this.accept), maxSize: this.maxSize, multiple: this.multiple, maxFiles: this.maxFiles };
    return html`<div part="base" class="base">
      <input type="file" hidden tabindex="-1" accept=${this.accept || nothing} ?multiple=${this.multiple}
        @change=${this.#onInputChange} />
      ${this.multiple || count === 0
        ? html`<div part="drop-zone" class="drop-zone ${this.#drop.dragging ? "dragging" : ""} ${disabled ? "disabled" : ""}"
            @click=${this.#choose}>
            ${uploadIcon}
            <button type="button" part="choose-button" class="choose" ?disabled=${disabled}
              aria-label=${label ? `${label}: ${call}` : nothing} aria-describedby="hint">${call}</button>
            <span class="hint" id="hint"><slot name="hint">${strings.constraints(limits)}</slot></span>
          </div>`
        : nothing}
      ${count ? this.#files.render({ disabled, replaceable: !this.multiple, onAction: this.#onAction }) : nothing}
      ${messages.length
        ? html`<div part="message" class="message">${messages.map((message) => html`<p>${message}</p>`)}</div>`
        : nothing}
      <div class="visually-hidden" role="status">${this.announcement}</div>
    </div>`;
  }

  #choose = () => {
    if (this.isDisabled) return;
    this.renderRoot.querySelector<HTMLInputElement>("input[type=file]")?.click();
  };

  #onInputChange = (event: Event) => {
    const input = event.target as HTMLInputElement;
    const files = [...(input.files ?? [])];
    input.value = "";
    this.#addFiles(files, []);
  };

  /** Checks what was chosen, refuses what cannot be sent (with a message), starts the rest. */
  #addFiles(files: File[], folders: string[]): void {
    if (files.length + folders.length === 0) return;
    this.#dirty = true;
    const { accepted, refusals } = sortSelection(files, folders, {
      accept: parseAccept(this.accept),
      maxSize: this.maxSize,
      multiple: this.multiple,
      room: this.multiple ? Math.max(0, this.maxFiles - this.#files.count) : 1,
      maxFiles: this.maxFiles,
    });
    for (const refusal of refusals) {
      this.dispatchEvent(new AsyncUploadErrorEvent({ file: refusal.file, code: refusal.code, message: refusal.message }));
    }
    const shown = refusals.slice(0, MAX_MESSAGES).map((refusal) => refusal.message);
    if (refusals.length > MAX_MESSAGES) shown.push(strings.moreRefusals(refusals.length - MAX_MESSAGES));
    this.messages = shown;
    if (shown.length) this.#announce(shown.join(" "));
    for (const file of accepted) this.#files.add(file);
  }

  #onAction = (action: RowAction, entry: Entry) => {
    if (action === "replace") this.#choose();
    else this.#files.act(action, entry);
  };

  /** Hands the form value and validity to the form; true when the value differs from last time. */
  #syncForm(): boolean {
    const keys = this.values;
    const changed = keys.join("\n") !== this.#syncedValue;
    this.#syncedValue = keys.join("\n");
    const data = new FormData();
    for (const key of keys.length ? keys : [""]) data.append(this.name, key);
    this.internals.setFormValue(this.name ? data : null, JSON.stringify(this.#files.saved));
    const anchor = this.renderRoot?.querySelector<HTMLElement>(".choose, .action") ?? undefined;
    applyValidity(this.internals, this, this.#files, anchor);
    return changed;
  }

  #announce(text: string): void {
    // The same words twice in a row are not read again unless the text changes.
    this.announcement = text === this.announcement ? `${text}\u00a0` : text;
  }

  #defaultEntries(): StoredFile[] {
    const { defaultValue: key, filename, size, downloadUrl } = this;
    // Lit turns JSON that does not parse into null; anything but a list of files with keys is left out.
    const stored = Array.isArray(this.storedFiles) ? this.storedFiles : [];
    const files = key ? [{ key, filename, size, downloadUrl }, ...stored] : stored;
    return files.filter((file) => typeof file?.key === "string" && file.key !== "");
  }
}

if (!customElements.get("async-file-input")) customElements.define("async-file-input", AsyncFileInput);

declare global {
  interface HTMLElementTagNameMap {
    "async-file-input": AsyncFileInput;
  }
}
