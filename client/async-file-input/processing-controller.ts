import { LIVE_REFUSED_EVENT } from "../../shared/live.js";
import {
  PROCESSING_EVENT,
  PROCESSING_FAILED_REASON,
  isFinalProcessingState,
  uploadTopic,
  type ProcessingState,
  type UploadProcessingPlan,
} from "../../shared/processing.js";
import { isProcessingState } from "../../shared/response-guards.js";
import { subscribe, type LiveChannelEvent } from "../live/live-channel.js";
import { browserTransport, type ProcessingTransport } from "./transport.js";
import { UploadFailure } from "./upload-failure.js";
import type { FileCheck, UploadEntry } from "./file-row.js";

export interface ProcessingOptions {
  /** A file's check changed (the row re-renders, validity and announcements follow). */
  onChange(entry: UploadEntry, previous: FileCheck): void;
  /** @default the browser's fetch */
  transport?: ProcessingTransport;
}

/** One uploaded file whose checks are followed. */
interface Followed {
  entry: UploadEntry;
  endpoint: string;
  key: string;
  plan: UploadProcessingPlan;
  /** The version of the state shown; a lower one is stale. */
  version: number;
  /** The state shown was decided here (the page could not follow the checks), not sent by the server. */
  local: boolean;
  controller: AbortController;
  unsubscribe?: () => void;
}

/**
 * Follows the server's checks of uploaded files (fields with processing steps): subscribes to each file's
 * topic on the shared events stream, asks the server to start the checks (`POST {base}/process`), and
 * keeps `entry.check` at the newest state heard from either. The server is the truth: a refused topic or
 * a closed stream asks it again; what it cannot tell is shown as "could not be checked" with a retry.
 */
export class ProcessingController {
  readonly #followed = new Map<UploadEntry, Followed>();
  readonly #options: ProcessingOptions;

  constructor(options: ProcessingOptions) {
    this.#options = options;
  }

  /** Starts following an uploaded file's checks. */
  start(entry: UploadEntry, endpoint: string, key: string, plan: UploadProcessingPlan): void {
    this.stop(entry);
    const followed: Followed = { entry, endpoint, key, plan, version: -1, local: true, controller: new AbortController() };
    this.#followed.set(entry, followed);
    this.#show(followed, { state: "uploaded", label: null, reason: null });
    this.#listen(followed);
    void this.#request(followed);
  }

  /** Asks for the checks again after `failed` (the server starts them anew); false when the file is not followed. */
  retry(entry: UploadEntry): boolean {
    const followed = this.#followed.get(entry);
    if (!followed) return false;
    if (entry.check?.state !== "failed") return true;
    // Only a newer state than the failure replaces "queued": the stream's snapshot may still say failed.
    followed.local = false;
    this.#show(followed, { state: "queued", label: null, reason: null });
    this.#listen(followed);
    void this.#request(followed);
    return true;
  }

  /** Stops following a file (removed, replaced, or the element left the page). */
  stop(entry: UploadEntry): void {
    const followed = this.#followed.get(entry);
    if (!followed) return;
    this.#followed.delete(entry);
    followed.controller.abort();
    this.#unlisten(followed);
  }

  #listen(followed: Followed): void {
    if (followed.unsubscribe) return;
    const { endpoint, plan } = followed;
    const eventsUrl = `${endpoint.replace(/\/+$/, "")}/events`;
    followed.unsubscribe = subscribe(eventsUrl, plan.topicToken, (event) => this.#onEvent(followed, event), {
      topic: uploadTopic(plan.fileId),
      events: [PROCESSING_EVENT],
    });
  }

  #onEvent(followed: Followed, event: LiveChannelEvent): void {
    if (this.#followed.get(followed.entry) !== followed) return;
    if (event.event === LIVE_REFUSED_EVENT) {
      // A file whose checks ended needs no stream (asking again would restart a failed one). For the
      // others the server can tell, through the request that only answers while checks run.
      const state = followed.entry.check?.state;
      if (state === "passed" || state === "rejected" || state === "failed") return this.#unlisten(followed);
      return void this.#request(followed, true);
    }
    if (isProcessingState(event.data) && event.data.fileId === followed.plan.fileId) this.#apply(followed, event.data);
  }

  /**
   * `POST {base}/process`: while checks are queued or running it only answers their state; after `failed`
   * it starts them again. With `unfollowable` (the stream refused the topic), a state that will still
   * change is shown as "could not be checked": nothing would tell this page when it does.
   */
  async #request(followed: Followed, unfollowable = false): Promise<void> {
    try {
      const transport = this.#options.transport ?? browserTransport;
      const state = await transport.startProcessing(followed.endpoint, { key: followed.key }, followed.controller.signal);
      if (this.#followed.get(followed.entry) !== followed) return;
      this.#apply(followed, state);
      if (unfollowable && !isFinalProcessingState(state.state)) this.#fail(followed, null);
    } catch (error) {
      if (followed.controller.signal.aborted || this.#followed.get(followed.entry) !== followed) return;
      const failure = error instanceof UploadFailure ? error : undefined;
      this.#fail(followed, failure?.serverMessage ?? null);
    }
  }

  #apply(followed: Followed, state: ProcessingState): void {
    // Events and answers cross: only a newer state wins (an equal one replaces what the page decided).
    if (state.version < followed.version || (state.version === followed.version && !followed.local)) return;
    followed.version = state.version;
    followed.local = false;
    const reason = state.state === "failed" && state.reason === PROCESSING_FAILED_REASON ? null : state.reason;
    this.#show(followed, { state: state.state, label: state.label, reason });
    // Nothing more will happen to it (Retry listens again): its topic leaves the shared stream.
    if (isFinalProcessingState(state.state)) this.#unlisten(followed);
  }

  #unlisten(followed: Followed): void {
    followed.unsubscribe?.();
    followed.unsubscribe = undefined;
  }

  #fail(followed: Followed, reason: string | null): void {
    followed.local = true;
    this.#show(followed, { state: "failed", label: null, reason });
  }

  #show(followed: Followed, check: FileCheck): void {
    const { entry } = followed;
    const previous = entry.check ?? check;
    entry.check = check;
    this.#options.onChange(entry, previous);
  }
}
