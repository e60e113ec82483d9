import type { LiveEvent } from "../../shared/live.js";
import type { LiveMessage } from "./fanout.js";

/** What a stream does with an event of one of its topics. */
export type LiveListener = (event: LiveEvent) => void;

/** One open stream, as the hub counts it per principal. */
export interface StreamSlot {
  /** Gives the slot back; idempotent. */
  release(): void;
}

/**
 * The in-process side of the fan-out: one LISTEN per instance feeds `dispatch`, which hands each
 * message to the streams of this instance that hear its topic. Also counts streams per principal,
 * so one client opening thousands of streams holds at most `maxStreamsPerPrincipal`.
 */
export class LiveHub {
  readonly #byTopic = new Map<string, Set<LiveListener>>();
  readonly #byPrincipal = new Map<string, Map<object, () => void>>();
  #listeners = 0;
  #streams = 0;

  constructor(readonly maxStreamsPerPrincipal: number) {}

  /** Hands `listener` every event of `topics` until the returned function is called (idempotent). */
  listen(topics: readonly string[], listener: LiveListener): () => void {
    const unique = [...new Set(topics)];
    for (const topic of unique) {
      let set = this.#byTopic.get(topic);
      if (!set) this.#byTopic.set(topic, (set = new Set()));
      set.add(listener);
    }
    this.#listeners++;
    let listening = true;
    return () => {
      if (!listening) return;
      listening = false;
      this.#listeners--;
      for (const topic of unique) {
        const set = this.#byTopic.get(topic);
        set?.delete(listener);
        if (set?.size === 0) this.#byTopic.delete(topic);
      }
    };
  }

  /** Delivers a message that arrived through the fan-out to the streams of this instance. */
  dispatch(message: LiveMessage): void {
    const set = this.#byTopic.get(message.topic);
    if (!set) return;
    const event: LiveEvent = { topic: message.topic, event: message.event, data: message.data, version: message.version ?? 0 };
    // A copy: a listener may close its stream (and unlisten) while we go through the set.
    for (const listener of [...set]) listener(event);
  }

  /**
   * Counts one more stream of `principal`. At the bound the oldest stream of that principal is closed
   * (`close` is called): the newest is the tab the person is looking at, the oldest the likeliest to be
   * a tab long gone whose socket the server has not yet seen die.
   */
  admit(principal: string, close: () => void): StreamSlot {
    let streams = this.#byPrincipal.get(principal);
    if (!streams) this.#byPrincipal.set(principal, (streams = new Map()));
    while (streams.size >= this.maxStreamsPerPrincipal) {
      const [oldest, closeOldest] = streams.entries().next().value as [object, () => void];
      streams.delete(oldest);
      this.#streams--;
      closeOldest();
    }
    const key = {};
    streams.set(key, close);
    this.#streams++;
    return {
      release: () => {
        const current = this.#byPrincipal.get(principal);
        if (!current?.delete(key)) return;
        this.#streams--;
        if (current.size === 0) this.#byPrincipal.delete(principal);
      },
    };
  }

  /** Whether one more stream of `principal` would add to the instance's total (it does not when it replaces their oldest). */
  wouldGrow(principal: string): boolean {
    return (this.#byPrincipal.get(principal)?.size ?? 0) < this.maxStreamsPerPrincipal;
  }

  /** Open streams of this instance. */
  get streamCount(): number {
    return this.#streams;
  }

  /** Streams listening now, and topics with at least one listener: what a leak test looks at. */
  stats(): { listeners: number; topics: number; principals: number; streams: number } {
    return { listeners: this.#listeners, topics: this.#byTopic.size, principals: this.#byPrincipal.size, streams: this.#streams };
  }
}
