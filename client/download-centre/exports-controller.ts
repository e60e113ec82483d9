import type { ReactiveController, ReactiveControllerHost } from "lit";
import { EXPORT_CLEARED_EVENT, EXPORT_EVENT, exportTopic, isActiveExportStatus, isFinalExportStatus, type ExportSummary } from "../../shared/exports.js";
import { LIVE_REFUSED_EVENT } from "../../shared/live.js";
import { subscribe, subscribeOwn, type LiveChannelEvent } from "../live/live-channel.js";
import { AsyncExportStartEvent } from "./events.js";
import { clearExport, exportAction, ExportRequestError, isSummary, listExports } from "./exports-api.js";

export interface ExportsControllerOptions {
  /** The routes' base URL (`/async-uploads`), read at each request. */
  endpoint(): string;
  /** Seconds between list refreshes while an export is followed by nothing live. */
  pollSeconds(): number;
  /** An export appeared or changed status (`previous` null: newly listed). */
  changed(item: ExportSummary, previous: ExportSummary["status"] | null): void;
  /** An export left the list (cleared here or in another tab). */
  removed(item: ExportSummary): void;
  /** A request failed. */
  failed(error: ExportRequestError, id?: string): void;
}

/**
 * The person's exports for `<async-download-centre>`: loaded from `GET {base}/exports`, heard on the person's own
 * topic (`user:<principal>`, which every stream hears without a token: exports of other tabs appear), followed live
 * on the shared events stream (`export:<id>` with the topic token of the 202 / cancel / retry answer)
 * and, for exports it holds no token for or whose topic the stream refused (the events route is not
 * mounted, the token expired), by polling the list every few seconds while any of them is active.
 * A state with a lower `version` than the one shown is stale and ignored.
 */
export class ExportsController implements ReactiveController {
  readonly #host: ReactiveControllerHost & EventTarget;
  readonly #options: ExportsControllerOptions;
  readonly #items = new Map<string, ExportSummary>();
  /** Exports followed on the live channel: id → unsubscribe. */
  readonly #follows = new Map<string, () => void>();
  /** Followed exports whose topic the stream is (as far as we know) delivering. */
  readonly #live = new Set<string>();
  #timer?: ReturnType<typeof setTimeout>;
  #connected = false;
  /** Stops hearing the person's own topic (`user:<principal>`). */
  #stopUser?: () => void;
  /**
   * The stream is (as far as we know) delivering the person's own topic, where every export's changes
   * are published too: exports started in another tab appear, and an export we hold no token for is heard.
   */
  #userLive = true;
  /** Exports cleared (here or elsewhere): ids are never reused, so later events about them are ignored. */
  readonly #gone = new Set<string>();
  /** Ids being acted on (buttons disabled meanwhile). */
  readonly busy = new Set<string>();
  /** True once the first list answer came (or failed). */
  loaded = false;

  constructor(host: ReactiveControllerHost & EventTarget, options: ExportsControllerOptions) {
    this.#host = host;
    this.#options = options;
    host.addController(this);
  }

  /** Newest first. */
  get items(): ExportSummary[] {
    return [...this.#items.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  hostConnected(): void {
    this.#connected = true;
    document.addEventListener(AsyncExportStartEvent.type, this.#onStart);
    document.addEventListener("visibilitychange", this.#onVisible);
    void this.refresh();
  }

  hostDisconnected(): void {
    this.#connected = false;
    document.removeEventListener(AsyncExportStartEvent.type, this.#onStart);
    document.removeEventListener("visibilitychange", this.#onVisible);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stopUser?.();
    this.#stopUser = undefined;
    for (const stop of this.#follows.values()) stop();
    this.#follows.clear();
    this.#live.clear();
  }

  /** Loads the list again: new exports are added, changed ones updated, ones cleared elsewhere dropped. */
  async refresh(): Promise<void> {
    // Only what was listed before asking can have been cleared elsewhere: an export started meanwhile
    // may be newer than this answer.
    const before = new Set(this.#items.keys());
    try {
      const listed = await listExports(this.#options.endpoint());
      const ids = new Set(listed.map((item) => item.id));
      for (const id of before) if (!ids.has(id) && !this.busy.has(id)) this.#remove(id);
      for (const item of listed) this.#upsert(item);
      // The person's own topic, once the list says there is a person: a signed-out page opens no stream.
      if (this.#connected && !this.#stopUser) {
        this.#userLive = true;
        this.#stopUser = subscribeOwn(this.#eventsUrl(), "user", (event) => this.#onUserEvent(event), [EXPORT_EVENT, EXPORT_CLEARED_EVENT]);
      }
    } catch (error) {
      const failure = error instanceof ExportRequestError ? error : new ExportRequestError("bad_response", String(error), null);
      if (failure.status === 401) {
        // Signed out (a public page with the centre in its header): nothing to list or to hear, and nothing to report.
        this.#stopUser?.();
        this.#stopUser = undefined;
      } else {
        this.#options.failed(failure);
      }
    } finally {
      this.loaded = true;
      this.#host.requestUpdate();
      this.#schedulePoll();
    }
  }

  /** Cancel (queued/running) or retry (failed/cancelled) one export. */
  async act(id: string, action: "cancel" | "retry"): Promise<void> {
    await this.#busy(id, async () => {
      const answer = await exportAction(this.#options.endpoint(), id, action);
      this.#upsert(answer.export);
      if (isActiveExportStatus(answer.export.status)) this.#follow(answer.export.id, answer.topicToken);
    });
  }

  /** Clears one export (a running one is cancelled first by the server). */
  async clear(id: string): Promise<void> {
    await this.#busy(id, async () => {
      await clearExport(this.#options.endpoint(), id);
      this.#remove(id);
    });
  }

  async #busy(id: string, work: () => Promise<void>): Promise<void> {
    this.busy.add(id);
    this.#host.requestUpdate();
    try {
      await work();
    } catch (error) {
      const failure = error instanceof ExportRequestError ? error : new ExportRequestError("bad_response", String(error), null);
      // Gone on the server (cleared in another tab, expired and removed): drop the row too.
      if (failure.status === 404) this.#remove(id);
      this.#options.failed(failure, id);
    } finally {
      this.busy.delete(id);
      this.#host.requestUpdate();
      this.#schedulePoll();
    }
  }

  readonly #onStart = (event: AsyncExportStartEvent): void => {
    const { export: item, topicToken } = event.detail;
    if (!isSummary(item)) return;
    this.#upsert(item);
    if (isActiveExportStatus(item.status) && typeof topicToken === "string") this.#follow(item.id, topicToken);
    this.#schedulePoll();
  };

  readonly #onVisible = (): void => {
    if (document.visibilityState === "visible") void this.refresh();
  };

  #upsert(item: ExportSummary): void {
    // A cleared export's last events may still be on their way: it stays gone.
    if (this.#gone.has(item.id)) return;
    const known = this.#items.get(item.id);
    if (known && known.version > item.version) return;
    this.#items.set(item.id, item);
    if (isFinalExportStatus(item.status)) this.#unfollow(item.id);
    if (!known || known.status !== item.status) this.#options.changed(item, known?.status ?? null);
    this.#host.requestUpdate();
  }

  #remove(id: string): void {
    this.#gone.add(id);
    const item = this.#items.get(id);
    this.#unfollow(id);
    if (!item) return;
    this.#items.delete(id);
    this.#options.removed(item);
    this.#host.requestUpdate();
  }

  #follow(id: string, token: string): void {
    if (!this.#connected) return;
    this.#unfollow(id);
    const stop = subscribe(this.#eventsUrl(), token, (event) => this.#onLive(id, event), {
      topic: exportTopic(id),
      events: [EXPORT_EVENT, EXPORT_CLEARED_EVENT],
    });
    this.#follows.set(id, stop);
    this.#live.add(id);
  }

  #unfollow(id: string): void {
    this.#follows.get(id)?.();
    this.#follows.delete(id);
    this.#live.delete(id);
  }

  #eventsUrl(): string {
    return `${this.#options.endpoint().replace(/\/+$/, "")}/events`;
  }

  /** An event of the person's own topic: any of their exports (this tab's or another's). */
  #onUserEvent(event: LiveChannelEvent): void {
    if (event.event === LIVE_REFUSED_EVENT) {
      this.#userLive = false;
      return this.#schedulePoll();
    }
    this.#userLive = true;
    const data = event.data as { id?: unknown } | null;
    if (event.event === EXPORT_CLEARED_EVENT && typeof data?.id === "string") return this.#remove(data.id);
    if (event.event === EXPORT_EVENT && isSummary(event.data)) this.#upsert(event.data);
  }

  #onLive(id: string, event: LiveChannelEvent): void {
    if (event.event === LIVE_REFUSED_EVENT) {
      // Not mounted, refused or expired token: the list is polled for this one instead.
      this.#live.delete(id);
      this.#schedulePoll();
      return;
    }
    if (this.#follows.has(id)) this.#live.add(id);
    if (event.event === EXPORT_CLEARED_EVENT) return this.#remove(id);
    if (event.event === EXPORT_EVENT && isSummary(event.data) && event.data.id === id) this.#upsert(event.data);
  }

  /**
   * Polls while an active export is followed by no topic token of its own; stops once none is. While the
   * person's own topic is heard, only slowly (that topic has no snapshot after a reconnection, so an
   * event lost in between would otherwise never be corrected).
   */
  #schedulePoll(): void {
    if (!this.#connected || this.#timer !== undefined) return;
    const unheard = this.items.some((item) => isActiveExportStatus(item.status) && !this.#live.has(item.id));
    if (!unheard) return;
    const fast = Math.max(0.5, this.#options.pollSeconds() || 3);
    const seconds = this.#userLive ? Math.max(fast * 5, 15) : fast;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.refresh();
    }, seconds * 1000);
  }
}
