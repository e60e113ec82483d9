import { randomUUID } from "node:crypto";
import type { Fanout, LiveMessage } from "./fanout.js";

export interface SubscriptionOptions {
  fanout: Fanout;
  /** Every message of every instance. */
  onMessage: (message: LiveMessage) => void;
  /**
   * Messages may have been missed (the LISTEN connection was re-established, or stopped hearing): the
   * streams should reconnect, so that their snapshots bring back what was lost.
   */
  onGap: (why: string) => void;
  /** How often the subscription checks that it still hears its own messages. */
  probeMs: number;
  log: (message: string, error: unknown) => void;
}

/** How long a probe may take to come back before the subscription counts as lost (at most `probeMs`). */
const PROBE_TIMEOUT_MS = 10_000;

/**
 * The one subscription of an instance to the fan-out, kept alive. A LISTEN connection can be cut
 * (database restart, network, `pg_terminate_backend`); postgres.js listens again on its own, but what was
 * published meanwhile is gone, and if listening again fails it stays silent. So: a re-listen is reported
 * as a gap, and while it runs the subscription sends itself a probe every `probeMs`; a probe that does
 * not come back within 10 s (or `probeMs`, if shorter) means it stopped hearing, and it subscribes anew (and reports a gap).
 */
export class FanoutSubscription {
  readonly #options: SubscriptionOptions;
  readonly #probeTopic = `probe:${randomUUID()}`;
  #current: Promise<() => Promise<void>> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #probeSent = 0;
  #probeHeard = 0;
  #closed = false;

  constructor(options: SubscriptionOptions) {
    this.#options = options;
  }

  /** Subscribes if not yet (again after a failure); resolves once listening. */
  async start(): Promise<void> {
    if (this.#closed) throw new Error("[async-uploads] the live channel is closed");
    this.#current ??= this.#subscribe();
    try {
      await this.#current;
    } catch (error) {
      this.#current = undefined; // the next stream tries again
      throw error;
    }
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.#probe(), this.#options.probeMs);
      this.#timer.unref();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#drop();
  }

  #subscribe(): Promise<() => Promise<void>> {
    let listening = false;
    return this.#options.fanout.subscribe(
      (message) => {
        if (message.topic !== this.#probeTopic) return this.#options.onMessage(message);
        this.#probeHeard = Math.max(this.#probeHeard, Number(message.data));
      },
      () => {
        if (listening) this.#options.onGap("the LISTEN connection was re-established");
        listening = true;
      },
    );
  }

  async #drop(): Promise<void> {
    const current = this.#current;
    this.#current = undefined;
    const unsubscribe = await current?.catch(() => undefined);
    await unsubscribe?.().catch((error: unknown) => this.#options.log("could not stop listening for live events", error));
  }

  async #probe(): Promise<void> {
    if (this.#closed || !this.#current || this.#probeSent > this.#probeHeard) return; // one probe at a time
    const probe = ++this.#probeSent;
    try {
      await this.#options.fanout.publish({ topic: this.#probeTopic, event: "probe", data: probe });
    } catch (error) {
      // The database is unreachable: nothing is published anywhere meanwhile; try again next time.
      this.#probeHeard = probe;
      this.#options.log("could not check the live events subscription", error);
      return;
    }
    const deadline = Date.now() + Math.min(PROBE_TIMEOUT_MS, this.#options.probeMs);
    while (this.#probeHeard < probe && Date.now() < deadline && !this.#closed) {
      await new Promise((resolve) => setTimeout(resolve, 50).unref());
    }
    if (this.#probeHeard >= probe || this.#closed) return;
    this.#options.log("live events: this instance stopped hearing its own messages; listening again", null);
    this.#probeHeard = probe;
    await this.#drop();
    this.#options.onGap("the subscription stopped hearing");
    await this.start().catch((error: unknown) => this.#options.log("could not listen for live events again", error));
  }
}
