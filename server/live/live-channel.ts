import { createHash } from "node:crypto";
import { LIVE_EVENT_NAME, LIVE_RESERVED_EVENTS, LIVE_TOPIC, topicId, topicKind, type LiveEvent } from "../../shared/live.js";
import type { Database } from "../db/database.js";
import { encodeMessage, postgresFanout, type Fanout, type LiveMessage } from "./fanout.js";
import { LiveHub } from "./hub.js";
import { FanoutSubscription } from "./subscription.js";
import { signTopicToken } from "./topic-tokens.js";

/** `createAsyncUploads({ live })`: the live channel's settings. */
export interface LiveOptions {
  /** How events reach every instance. @default postgresFanout(db, { channel }) */
  fanout?: Fanout;
  /** NOTIFY channel of the default fan-out. @default "async_uploads_live" (+ "_<schema>" outside "public") */
  channel?: string;
  /** Seconds between heartbeat comments on an idle stream, so proxies keep it open. @default 15 */
  heartbeatSeconds?: number;
  /** Open streams one principal may hold on one instance; a new one past it closes their oldest. @default 32 */
  maxStreamsPerPrincipal?: number;
  /** Open streams one instance holds; past it a new stream (not replacing one of the same principal) gets 503 `live_unavailable`. @default 10000 */
  maxStreams?: number;
  /** Topic tokens one stream may present; the rest are refused with `too_many_topics`. @default 50 */
  maxTopicsPerStream?: number;
  /** How long a topic token opens its topic, in seconds. @default 900 */
  topicTokenLifetime?: number;
  /** How often an instance checks, with a message to itself, that its LISTEN still hears. @default 30 */
  probeSeconds?: number;
  /** How long a snapshot provider may take before the stream goes on without that snapshot. @default 5 */
  snapshotTimeoutSeconds?: number;
}

/** What a snapshot provider answers for one object: its current state, sent on every (re)connect. */
export interface LiveSnapshot {
  event: string;
  data: unknown;
  version: number;
}

/** Gives the current state of object `id` of its kind for `principal`, or null (nothing to tell, or not theirs). */
export type SnapshotProvider = (id: string, principal: string) => Promise<LiveSnapshot | null>;

/** The live channel of one `createAsyncUploads`: publishing, topic tokens and snapshots. */
export interface LiveChannel {
  /**
   * Sends `event` with `data` to every stream that hears `topic`, on every instance. With `tx` (a drizzle
   * transaction) the event leaves when the transaction commits, and never if it rolls back.
   */
  publish(topic: string, event: string, data: unknown, options?: { tx?: Database; version?: number }): Promise<void>;
  /** A token that lets `principal`'s stream hear `topic` (`?topic=<token>` on `GET {base}/events`). */
  topicToken(topic: string, principal: string, lifetimeSeconds?: number): string;
  /** The current state of an object topic (`upload:<id>` → prefix "upload"), for the (re)connect snapshot. */
  registerSnapshot(prefix: string, provider: SnapshotProvider): void;
  /** What this instance holds now: open streams, their hub listeners, topics heard (for metrics and leak checks). */
  stats(): { streams: number; listeners: number; topics: number };
  /** Stops listening and closes this instance's open streams. */
  close(): Promise<void>;
}

/** The channel plus what the events route needs of it. */
export interface LiveServer extends LiveChannel {
  hub: LiveHub;
  /**
   * Internal: many events at once (each checked as `publish` checks it), in one statement per few
   * hundred where the fan-out can (`postgresFanout`), else one `publish` each. For bulk changes
   * (cleanup-expired-exports), where one NOTIFY round trip per event was the whole cost.
   */
  publishMany(messages: readonly LiveMessage[], options?: { tx?: Database }): Promise<void>;
  settings: Readonly<{ heartbeatMs: number; maxTopicsPerStream: number; maxStreams: number }>;
  secret: string;
  now: () => number;
  log: (message: string, error: unknown) => void;
  /** Starts this instance's one subscription to the fan-out (at the first stream); rejects once closed. */
  ready(): Promise<void>;
  /** The snapshot of `topic` for `principal`, when a provider for its kind gives one. */
  snapshot(topic: string, principal: string): Promise<LiveEvent | null>;
  /** Registers an open stream's close (for `close()`) and resync (for a gap in the fan-out); returns the way to forget it. */
  track(close: () => void, resync: (why: string) => void): () => void;
}

export interface LiveChannelDeps extends LiveOptions {
  db: Database;
  secret: string;
  now: () => number;
  log: (message: string, error: unknown) => void;
}

/** The topic every stream of `principal` hears: `user:<principal>` (escaped when it has other characters). */
export function userTopic(principal: string): string {
  // "%" is escaped too, so that two principals never share a topic; an overlong one is hashed.
  const id = /^[\x21-\x24\x26-\x7e]+$/.test(principal) ? principal : encodeURIComponent(principal);
  return id.length <= 200 ? `user:${id}` : `user:~${createHash("sha256").update(principal).digest("base64url")}`;
}

export function createLiveChannel(deps: LiveChannelDeps): LiveServer {
  const positive = (value: number | undefined, fallback: number, name: string) => {
    const result = value ?? fallback;
    if (!Number.isFinite(result) || result <= 0) throw new Error(`[async-uploads] live.${name} must be a positive number`);
    return result;
  };
  const heartbeatMs = positive(deps.heartbeatSeconds, 15, "heartbeatSeconds") * 1000;
  const maxStreamsPerPrincipal = Math.floor(positive(deps.maxStreamsPerPrincipal, 32, "maxStreamsPerPrincipal"));
  const maxTopicsPerStream = Math.floor(positive(deps.maxTopicsPerStream, 50, "maxTopicsPerStream"));
  const maxStreams = Math.floor(positive(deps.maxStreams, 10_000, "maxStreams"));
  const snapshotTimeoutMs = positive(deps.snapshotTimeoutSeconds, 5, "snapshotTimeoutSeconds") * 1000;
  const tokenLifetime = positive(deps.topicTokenLifetime, 900, "topicTokenLifetime");
  const fanout = deps.fanout ?? postgresFanout(deps.db, deps.channel === undefined ? {} : { channel: deps.channel });
  const hub = new LiveHub(maxStreamsPerPrincipal);
  const providers = new Map<string, SnapshotProvider>();
  const open = new Map<() => void, (why: string) => void>();
  const subscription = new FanoutSubscription({
    fanout,
    onMessage: (message) => hub.dispatch(message),
    // The streams reconnect and their snapshots bring back what this instance may have missed.
    onGap: (why) => {
      deps.log(`live events may have been missed (${why}); asking this instance's streams to reconnect`, null);
      for (const resync of [...open.values()]) resync(why);
    },
    probeMs: positive(deps.probeSeconds, 30, "probeSeconds") * 1000,
    log: deps.log,
  });

  return {
    hub,
    settings: { heartbeatMs, maxTopicsPerStream, maxStreams },
    secret: deps.secret,
    now: deps.now,
    log: deps.log,
    ready: () => subscription.start(),
    async publish(topic, event, data, options = {}) {
      await fanout.publish(checkedMessage(topic, event, data, options.version), options.tx);
    },
    async publishMany(messages, options = {}) {
      const checked = messages.map((message) => checkedMessage(message.topic, message.event, message.data, message.version));
      if (fanout.publishMany) await fanout.publishMany(checked, options.tx);
      else for (const message of checked) await fanout.publish(message, options.tx);
    },
    topicToken(topic, principal, lifetimeSeconds) {
      checkTopic(topic);
      const lifetime = positive(lifetimeSeconds, tokenLifetime, "topicToken lifetime");
      return signTopicToken(topic, principal, deps.now() + lifetime * 1000, deps.secret);
    },
    registerSnapshot(prefix, provider) {
      if (!/^[a-z][a-z0-9_-]{0,39}$/.test(prefix)) throw new Error(`[async-uploads] "${prefix}" is not a topic kind (e.g. "upload")`);
      if (providers.has(prefix)) throw new Error(`[async-uploads] a snapshot provider for "${prefix}" topics is already registered`);
      providers.set(prefix, provider);
    },
    async snapshot(topic, principal) {
      const provider = providers.get(topicKind(topic));
      if (!provider) return null;
      let timer: NodeJS.Timeout | undefined;
      try {
        // A provider that hangs (a stuck query) must not hold the stream, and with it its closure, forever.
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${snapshotTimeoutMs} ms`)), snapshotTimeoutMs);
        });
        const state = await Promise.race([provider(topicId(topic), principal), timeout]);
        return state && { topic, event: state.event, data: state.data, version: state.version };
      } catch (error) {
        // The stream still starts: the page keeps its last state and the next event brings the news.
        deps.log(`the snapshot of ${topic} failed`, error);
        return null;
      } finally {
        clearTimeout(timer);
      }
    },
    stats() {
      const { streams, listeners, topics } = hub.stats();
      return { streams, listeners, topics };
    },
    track(close, resync) {
      open.set(close, resync);
      return () => open.delete(close);
    },
    async close() {
      for (const close of [...open.keys()]) close();
      await subscription.close();
    },
  };
}

function checkTopic(topic: string): void {
  if (typeof topic !== "string" || !LIVE_TOPIC.test(topic)) {
    throw new Error(`[async-uploads] "${String(topic)}" is not a topic: "broadcast" or "<kind>:<id>" (e.g. "upload:<id>")`);
  }
}

function checkedVersion(version: number | undefined): number {
  if (version === undefined) return 0;
  if (!Number.isSafeInteger(version) || version < 0) throw new Error("[async-uploads] a live event's version must be a whole number ≥ 0");
  return version;
}

/** The data as it will arrive: JSON, or a clear error naming the event. */
function checkedData(data: unknown, topic: string, event: string): unknown {
  if (data === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (error) {
    throw new Error(`[async-uploads] the data of live event "${event}" on "${topic}" is not JSON: ${(error as Error).message}`);
  }
  if (text === undefined) throw new Error(`[async-uploads] the data of live event "${event}" on "${topic}" is not JSON (a ${typeof data})`);
  return JSON.parse(text) as unknown;
}

/** A message as `publish` sends it, or a readable error for a topic, event name, payload or version it refuses. */
function checkedMessage(topic: string, event: string, data: unknown, version: number | undefined): LiveMessage {
  checkTopic(topic);
  if (!LIVE_EVENT_NAME.test(event) || LIVE_RESERVED_EVENTS.includes(event)) {
    throw new Error(
      `[async-uploads] "${event}" is not an event name to publish: lower-case letters, digits, "_", "." and "-", ` +
        `at most 64, not one of ${LIVE_RESERVED_EVENTS.join(", ")}`,
    );
  }
  const message = { topic, event, data: checkedData(data, topic, event), version: checkedVersion(version) };
  encodeMessage(message); // refuses an oversized payload here, before anything is sent
  return message;
}
