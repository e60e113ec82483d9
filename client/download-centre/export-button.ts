import { LitElement, css, html, nothing, type PropertyDeclarations, type TemplateResult } from "lit";
import { AsyncExportErrorEvent, AsyncExportServedEvent, AsyncExportStartEvent } from "./events.js";
import { ExportRequestError, requestExport } from "./exports-api.js";
import { downloadStrings as strings, onDownloadStringsChange } from "./strings.js";

/**
 * A button that starts an export (`POST {endpoint}/exports`) with the criteria of the form it is in
 * (every named field, as `FormData` has them: a name given several times becomes a list), or with the
 * `criteria` attribute's JSON outside a form. When the server queues it (202) the button says where the
 * file will appear and dispatches `async-export-start` on `document`, which an
 * `<async-download-centre>` on the page picks up at once; when the server serves it now (200) the
 * browser downloads the file. Refusals are shown in words beside the button.
 *
 * @tag async-export-button
 *
 * @attr export-id - The registered export type (`documents.csv`).
 * @attr endpoint - Where the routes are mounted. Default `/async-uploads`.
 * @attr criteria - JSON criteria, used when the button is in no form.
 * @attr disabled - The button cannot be pressed.
 *
 * @slot - The button's text ("Export all documents as CSV").
 *
 * @event async-export-start - `AsyncExportStartEvent` (on `document`): the export was queued.
 * @event async-export-served - `AsyncExportServedEvent`: the file was served at once and handed to the browser.
 * @event async-export-error - `AsyncExportErrorEvent`: the request was refused or failed (the message is shown).
 *
 * @csspart button - The button.
 * @csspart message - What happened: where the file will appear, or why it could not be started.
 *
 * @cssproperty --async-download-centre-accent - Focus ring (as the centre's, then the file input's).
 * @cssproperty --async-download-centre-muted-color - The message.
 * @cssproperty --async-download-centre-danger-color - An error message.
 */
export class AsyncExportButton extends LitElement {
  static override styles = css`
    :host {
      display: inline-flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 0.5rem;
    }
    :host([hidden]) {
      display: none;
    }
    button {
      font: inherit;
      cursor: pointer;
    }
    button:disabled {
      cursor: not-allowed;
      opacity: 0.6;
    }
    :focus-visible {
      outline: 2px solid var(--async-download-centre-accent, var(--async-file-input-accent, light-dark(#1d5bd6, #8ab4ff)));
      outline-offset: 2px;
    }
    .message {
      color: var(--async-download-centre-muted-color, var(--async-file-input-muted-color, light-dark(#4b5563, #aab2bf)));
    }
    .message.error {
      color: var(--async-download-centre-danger-color, var(--async-file-input-danger-color, light-dark(#b42318, #ff8a80)));
      font-weight: 600;
    }
  `;

  static override properties: PropertyDeclarations = {
    exportId: { attribute: "export-id" },
    endpoint: {},
    criteria: {},
    disabled: { type: Boolean, reflect: true },
    busy: { state: true },
    message: { state: true },
    failed: { state: true },
  };

  exportId = "";
  endpoint = "/async-uploads";
  criteria = "";
  disabled = false;

  private busy = false;
  private message = "";
  private failed = false;
  #stopStrings?: () => void;

  override connectedCallback(): void {
    super.connectedCallback();
    this.#stopStrings = onDownloadStringsChange(() => this.requestUpdate());
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.#stopStrings?.();
  }

  protected override render(): TemplateResult {
    return html`<button part="button" type="button" ?disabled=${this.disabled || this.busy} aria-describedby="message" @click=${() => void this.start()}>
        <slot></slot></button
      ><span id="message" part="message" class="message ${this.failed ? "error" : ""}" role="status">${this.message || nothing}</span>`;
  }

  /** The criteria sent: the enclosing form's fields, else the `criteria` attribute's JSON, else `{}`. */
  get criteriaValue(): unknown {
    const form = this.closest("form");
    if (form) {
      const criteria: Record<string, string | string[]> = {};
      for (const [name, value] of new FormData(form)) {
        if (typeof value !== "string") continue; // files are not criteria
        const known = criteria[name];
        criteria[name] = known === undefined ? value : Array.isArray(known) ? [...known, value] : [known, value];
      }
      return criteria;
    }
    if (!this.criteria) return {};
    try {
      return JSON.parse(this.criteria) as unknown;
    } catch {
      return this.criteria;
    }
  }

  /** Requests the export, as a click does. */
  async start(): Promise<void> {
    if (this.busy || this.disabled) return;
    this.busy = true;
    this.failed = false;
    this.message = strings.requesting;
    try {
      const result = await requestExport(this.endpoint, this.exportId, this.criteriaValue);
      if ("queued" in result) {
        this.message = strings.preparing(result.queued.export.filename);
        document.dispatchEvent(new AsyncExportStartEvent({ ...result.queued, endpoint: this.endpoint }));
      } else {
        saveFile(result.file, result.filename);
        this.message = strings.downloaded(result.filename);
        this.dispatchEvent(new AsyncExportServedEvent({ filename: result.filename, size: result.file.size }));
      }
    } catch (error) {
      const failure = error instanceof ExportRequestError ? error : new ExportRequestError("bad_response", "", null);
      this.failed = true;
      this.message = strings.requestFailed(failure.message, failure.status);
      this.dispatchEvent(new AsyncExportErrorEvent({ code: failure.code, message: this.message, status: failure.status }));
    } finally {
      this.busy = false;
    }
  }
}

/** Hands bytes already received to the browser as a download named `filename`. */
function saveFile(file: Blob, filename: string): void {
  const url = URL.createObjectURL(file);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has started by the next task; the object URL is no longer needed.
  setTimeout(() => URL.revokeObjectURL(url), 1_000);
}

if (!customElements.get("async-export-button")) customElements.define("async-export-button", AsyncExportButton);

declare global {
  interface HTMLElementTagNameMap {
    "async-export-button": AsyncExportButton;
  }
}
