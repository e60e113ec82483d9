import { LitElement, html, nothing, svg, type PropertyDeclarations, type TemplateResult } from "lit";
import { repeat } from "lit/directives/repeat.js";
import type { ExportSummary } from "../../shared/exports.js";
import { styles } from "./download-centre.styles.js";
import { AsyncExportChangeEvent, AsyncExportErrorEvent } from "./events.js";
import { fileUrl, type ExportRequestError } from "./exports-api.js";
import { ExportsController } from "./exports-controller.js";
import { downloadStrings as strings, onDownloadStringsChange } from "./strings.js";

const downloadIcon = svg`<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" aria-hidden="true"><path d="M12 4v11m-5-5 5 5 5-5M4 19h16"/></svg>`;
/** A mark per status, so that the state is told by shape and words too, not by colour alone. */
const MARKS: Record<ExportSummary["status"], string> = { queued: "…", running: "↻", succeeded: "✓", failed: "✕", cancelled: "–", expired: "–" };

/**
 * The person's download centre: the exports they started (files built in the background), with live
 * progress, and per export cancel (queued or running), retry (failed or cancelled), download (ready)
 * and clear. A toggle button opens the list; status changes are announced politely whether it is
 * open or not. Exports started on the page by `<async-export-button>` (or any `async-export-start`
 * event on `document`) appear at once; others are found by loading `GET {endpoint}/exports` when the
 * element connects and when the tab becomes visible again. Changes arrive on the shared events stream
 * (`{endpoint}/events`: the person's own topic, which brings other tabs' exports too, and each export's
 * topic), or by polling every `poll-seconds` where it is not mounted or refused.
 *
 * @tag async-download-centre
 *
 * @attr endpoint - Where the routes are mounted. Default `/async-uploads`.
 * @attr open - The list is shown (the toggle sets it; Escape in the list clears it).
 * @attr poll-seconds - Seconds between list refreshes while an export cannot be followed live. Default 3.
 *
 * @slot label - Replaces the toggle's text ("Downloads").
 *
 * @event async-export-change - `AsyncExportChangeEvent`: an export appeared or changed status.
 * @event async-export-error - `AsyncExportErrorEvent`: loading the list or an action failed (the message is shown).
 *
 * @csspart toggle - The button that opens and closes the list.
 * @csspart badge - The count of exports being prepared, in the toggle.
 * @csspart panel - The open list's box.
 * @csspart heading - Its heading.
 * @csspart list - The list of exports.
 * @csspart item - One export; its class is its status (`queued`, `running`, `succeeded`, `failed`, `cancelled`, `expired`).
 * @csspart filename - Its file name.
 * @csspart status - Its status in words ("Preparing… 42%", "Ready · 1.2 MiB", "Failed: …").
 * @csspart progress - The progress track (`role="progressbar"`), while running.
 * @csspart progress-bar - Its fill.
 * @csspart button - Every row action; each also has `cancel-button`, `retry-button` or `clear-button`.
 * @csspart download-link - The download link of a ready export.
 * @csspart empty - The text shown when there is nothing.
 * @csspart error - Why the last action failed.
 *
 * @cssproperty --async-download-centre-accent - Progress, focus ring, links. Default: `--async-file-input-accent`'s value, else blue.
 * @cssproperty --async-download-centre-color - Text.
 * @cssproperty --async-download-centre-muted-color - Secondary text.
 * @cssproperty --async-download-centre-background - The panel and the toggle.
 * @cssproperty --async-download-centre-border-color - Borders.
 * @cssproperty --async-download-centre-track-color - Progress track.
 * @cssproperty --async-download-centre-danger-color - Failed.
 * @cssproperty --async-download-centre-success-color - Ready.
 * @cssproperty --async-download-centre-radius - Corner radius.
 * @cssproperty --async-download-centre-width - The panel's width. Default `22rem`.
 *
 * Each colour falls back to the matching `--async-file-input-*` property, so a page themed for the
 * file input themes the centre too.
 */
export class AsyncDownloadCentre extends LitElement {
  static override styles = styles;

  static override properties: PropertyDeclarations = {
    endpoint: {},
    open: { type: Boolean, reflect: true },
    pollSeconds: { attribute: "poll-seconds", type: Number },
    announcement: { state: true },
    error: { state: true },
  };

  endpoint = "/async-uploads";
  open = false;
  pollSeconds = 3;

  private announcement = "";
  private error = "";
  #stopStrings?: () => void;

  readonly #exports = new ExportsController(this, {
    endpoint: () => this.endpoint,
    pollSeconds: () => this.pollSeconds,
    changed: (item, previous) => {
      if (previous !== null || this.#exports.loaded) this.#announce(strings.announce(item));
      this.dispatchEvent(new AsyncExportChangeEvent({ export: item, previous }));
    },
    removed: (item) => this.#announce(strings.announceCleared(item.filename)),
    failed: (failure, id) => this.#fail(failure, id),
  });

  /** The exports listed now, newest first. */
  get exports(): ExportSummary[] {
    return this.#exports.items;
  }

  /** Loads the list again from the server. */
  refresh(): Promise<void> {
    return this.#exports.refresh();
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.#stopStrings = onDownloadStringsChange(() => this.requestUpdate());
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.#stopStrings?.();
  }

  protected override render(): TemplateResult {
    const items = this.#exports.items;
    const active = items.filter((item) => item.status === "queued" || item.status === "running").length;
    return html`<button part="toggle" type="button" aria-expanded=${this.open ? "true" : "false"} aria-controls="panel" @click=${this.#toggle}>
        ${downloadIcon}<slot name="label">${strings.toggle}</slot>${active ? html`<span part="badge" class="badge">${active}<span class="visually-hidden"> ${strings.badge}</span></span>` : nothing}
      </button>
      <section id="panel" part="panel" aria-labelledby="heading" ?hidden=${!this.open} @keydown=${this.#onKeydown}>
        <h2 id="heading" part="heading" tabindex="-1">${strings.heading}</h2>
        ${this.error ? html`<p part="error" class="error">${this.error}</p>` : nothing}
        ${items.length === 0
          ? html`<p part="empty" class="empty">${this.#exports.loaded ? strings.empty : nothing}</p>`
          : html`<ul part="list" class="list" @focusin=${this.#onFocusIn} @focusout=${this.#onFocusOut}>
              ${repeat(items, (item) => item.id, (item) => this.#row(item))}
            </ul>`}
      </section>
      <div class="visually-hidden" role="status" aria-live="polite">${this.announcement}</div>`;
  }

  #row(item: ExportSummary): TemplateResult {
    const busy = this.#exports.busy.has(item.id);
    const running = item.status === "running" || item.status === "queued";
    const percentage = item.status === "running" ? item.percentage : null;
    const button = (kind: "cancel" | "retry" | "clear", text: string, label: string, action: () => void) =>
      html`<button type="button" part="button ${kind}-button" class=${kind} aria-label=${label} aria-disabled=${busy ? "true" : nothing} @click=${() => busy || action()}>${text}</button>`;
    return html`<li part="item ${item.status}" class="item ${item.status}" data-id=${item.id}>
      <span class="mark" aria-hidden="true">${MARKS[item.status]}</span>
      <span class="text">
        <span part="filename" class="filename">${item.filename}</span>
        <span part="status" class="status">${strings.status(item)}</span>
        ${running
          ? html`<span
              part="progress"
              class="progress"
              role="progressbar"
              aria-label=${strings.progressLabel(item.filename)}
              aria-valuemin="0"
              aria-valuemax="100"
              aria-valuenow=${percentage ?? nothing}
              ><span part="progress-bar" class="bar ${percentage === null ? "indeterminate" : ""}" style="width:${percentage ?? 100}%"></span
            ></span>`
          : nothing}
      </span>
      <span class="actions">
        ${item.status === "succeeded"
          ? html`<a part="download-link" class="download" href=${fileUrl(this.endpoint, item.id)} download=${item.filename} aria-label=${strings.downloadLabel(item.filename)}>${strings.download}</a>`
          : nothing}
        ${running ? button("cancel", strings.cancel, strings.cancelLabel(item.filename), () => void this.#exports.act(item.id, "cancel")) : nothing}
        ${item.status === "failed" || item.status === "cancelled"
          ? button("retry", strings.retry, strings.retryLabel(item.filename), () => void this.#exports.act(item.id, "retry"))
          : nothing}
        ${button("clear", strings.clear, strings.clearLabel(item.filename), () => void this.#clear(item.id))}
      </span>
    </li>`;
  }

  /** The row that holds the focus: when its action is replaced (Cancel → Retry), focus stays in the row. */
  #focusRow: string | undefined;

  #onFocusIn(event: FocusEvent): void {
    this.#focusRow = (event.target as HTMLElement).closest("li")?.dataset.id;
  }

  #onFocusOut(event: FocusEvent): void {
    // relatedTarget null: the focused button was removed (or the window blurred); keep the row.
    if (event.relatedTarget) this.#focusRow = undefined;
  }

  protected override updated(): void {
    const row = this.#focusRow ? this.renderRoot.querySelector<HTMLElement>(`li[data-id="${this.#focusRow}"]`) : null;
    const lost = !(this.renderRoot as ShadowRoot).activeElement && (document.activeElement === document.body || document.activeElement === this);
    if (row && lost) row.querySelector<HTMLElement>("a, button")?.focus();
  }

  #toggle(): void {
    this.open = !this.open;
    if (this.open) this.error = "";
  }

  #onKeydown(event: KeyboardEvent): void {
    if (event.key !== "Escape") return;
    event.stopPropagation();
    this.open = false;
    this.renderRoot.querySelector<HTMLElement>("[part=toggle]")?.focus();
  }

  /** Clears one export; focus moves to the next row (or the one before, or the heading), not to the page's start. */
  async #clear(id: string): Promise<void> {
    const ids = this.#exports.items.map((item) => item.id);
    const index = ids.indexOf(id);
    await this.#exports.clear(id);
    if (this.#exports.items.some((item) => item.id === id)) return;
    await this.updateComplete;
    const next = ids[index + 1] ?? ids[index - 1];
    const row = next ? this.renderRoot.querySelector<HTMLElement>(`li[data-id="${next}"]`) : null;
    (row?.querySelector<HTMLElement>("a, button") ?? this.renderRoot.querySelector<HTMLElement>("#heading"))?.focus();
  }

  #fail(failure: ExportRequestError, id?: string): void {
    const message = strings.actionFailed(failure.message || (failure.status === null ? "the connection failed." : `error ${failure.status}.`));
    this.error = message;
    this.#announce(message);
    this.dispatchEvent(new AsyncExportErrorEvent({ code: failure.code, message, status: failure.status, ...(id ? { id } : {}) }));
  }

  #announce(text: string): void {
    // The same text twice in a row would not be read again: a no-break space makes it new.
    this.announcement = text === this.announcement ? `${text}\u00a0` : text;
  }
}

if (!customElements.get("async-download-centre")) customElements.define("async-download-centre", AsyncDownloadCentre);

declare global {
  interface HTMLElementTagNameMap {
    "async-download-centre": AsyncDownloadCentre;
  }
}
