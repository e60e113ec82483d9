import {
  LIVE_CLOSED_EVENT,
  LIVE_READY_EVENT,
  LIVE_REFUSED_EVENT,
  LIVE_TOPIC_PARAM,
  type LiveEvent,
  type LiveRefusalCode,
  type LiveTopicRefused,
  topicKind,
} from "../../shared/live.js";

/**
 * A topic the subscriber will not hear: the server refused its token (`topic-refused`), or the browser
 * gave up on the whole stream (`stream_closed`: an error status such as 401, or not an event stream;
 * the channel keeps trying, with a growing pause, while anyone is subscribed).
 */
export interface LiveRefusal {
  topic?: string;
  code: LiveRefusalCode | "stream_closed";
  message: string;
}

/** What a subscriber hears: the events of its topic, and a refusal as event `topic-refused`. */
export type LiveChannelEvent = LiveEvent | (LiveEvent<LiveRefusal> & { event: typeof LIVE_REFUSED_EVENT });

export interface LiveSubscribeOptions {
  /** The topic the token is for (`upload:<fileId>`): only its events are passed on. */
  topic: string;
  /** The SSE event names wanted (`processing`); EventSource needs each name before it delivers it. */
  events: readonly string[];
}

interface Subscription extends LiveSubscribeOptions {
  /** "" for a topic every stream hears without one (`kind`). */
  token: string;
  /** Hears every topic of this kind (`user`), which the server gives each stream without a token. */
  kind?: string;
  onEvent(event: LiveChannelEvent): void;
}

/** One EventSource and everyone who listens through it. */
interface Stream {
  url: string;
  subscriptions: Set<Subscription>;
  source?: EventSource;
  /** The `?topic=` list `source` was opened with. */
  tokens: string;
  /** Event names `source` already has a listener for. */
  listened: Set<string>;
  timer?: ReturnType<typeof setTimeout>;
  /** Pause before reopening a stream the browser gave up on; doubles up to a minute, reset by `ready`. */
  backoffMs: number;
  /** The last event heard per topic and event name since `source` opened, for a subscriber who joins later. */
  latest: Map<string, { name: string; event: LiveEvent }>;
}

/** Changes of the token set within this time make one reconnection (elements subscribe file by file). */
const RECONNECT_DEBOUNCE_MS = 50;
const FIRST_BACKOFF_MS = 2_000;
const MAX_BACKOFF_MS = 60_000;

const STREAMS = Symbol.for("async-uploads.live-streams");
/**
 * The tab's streams, kept on `globalThis` rather than in this module: the file input's and the download
 * centre's bundles each carry a copy of this module, and the tab must still open one EventSource per URL.
 */
const streams: Map<string, Stream> = ((globalThis as { [STREAMS]?: Map<string, Stream> })[STREAMS] ??= new Map());

/**
 * Listens to `topic` of the events stream at `eventsUrl` (`{base}/events`) with the topic token the
 * server signed. Every element of the tab shares one EventSource per URL: a new token set reopens it
 * (debounced) with the new `?topic=` list, and the server's snapshot after each (re)connection makes
 * events missed meanwhile harmless. EventSource reconnects by itself after a dropped connection
 * (with `Last-Event-ID`). Returns the function that stops listening; the last one closes the stream at once.
 */
export function subscribe(
  eventsUrl: string,
  topicToken: string,
  onEvent: (event: LiveChannelEvent) => void,
  options: LiveSubscribeOptions,
): () => void {
  return add(eventsUrl, { ...options, token: topicToken, onEvent });
}

/**
 * Listens to the topic of `kind` that every stream of the person hears without a token: `user`
 * (`user:<principal>`: the server escapes the principal, so the browser matches on the kind alone),
 * `window` or `broadcast`. Opens the shared stream if nothing else did. Returns the function that stops listening.
 */
export function subscribeOwn(
  eventsUrl: string,
  kind: "user" | "window" | "broadcast",
  onEvent: (event: LiveChannelEvent) => void,
  events: readonly string[],
): () => void {
  return add(eventsUrl, { topic: `${kind}:`, events, token: "", kind, onEvent });
}

function add(eventsUrl: string, subscription: Subscription): () => void {
  let stream = streams.get(eventsUrl);
  if (!stream) {
    stream = { url: eventsUrl, subscriptions: new Set(), tokens: "", listened: new Set(), backoffMs: FIRST_BACKOFF_MS, latest: new Map() };
    streams.set(eventsUrl, stream);
  }
  stream.subscriptions.add(subscription);
  if (stream.source) listenTo(stream, stream.source);
  replayLatest(stream, subscription);
  schedule(stream, RECONNECT_DEBOUNCE_MS);
  const current = stream;
  return () => {
    if (!current.subscriptions.delete(subscription)) return;
    if (current.subscriptions.size > 0) return schedule(current, RECONNECT_DEBOUNCE_MS);
    clearTimeout(current.timer);
    current.source?.close();
    streams.delete(current.url);
  };
}

/**
 * A token the open stream already carries makes no reconnection, so no snapshot: the newcomer (a second
 * element following the same upload or export) hears the last events the others heard instead.
 */
function replayLatest(stream: Stream, subscription: Subscription): void {
  if (!subscription.token || !stream.source || stream.source.readyState === EventSource.CLOSED) return;
  if (!stream.tokens.split("\n").includes(subscription.token)) return;
  const missed = [...stream.latest].filter(([key, { name }]) => key.startsWith(`${subscription.topic}\n`) && subscription.events.includes(name));
  // After subscribe() has returned, as a live event would be: the caller may not hold its stop function yet.
  queueMicrotask(() => {
    for (const [, { event }] of missed) if (stream.subscriptions.has(subscription)) tell(subscription, event);
  });
}

/** The open (or opening) streams' URLs with their `?topic=` lists, for tests and diagnostics. */
export function openStreams(): string[] {
  return [...streams.values()].flatMap((stream) => (stream.source ? [streamUrl(stream.url, stream.tokens)] : []));
}

function tokensOf(stream: Stream): string {
  return [...new Set([...stream.subscriptions].flatMap((subscription) => (subscription.token ? [subscription.token] : [])))].sort().join("\n");
}

function streamUrl(eventsUrl: string, tokens: string): string {
  const url = new URL(eventsUrl, document.baseURI);
  for (const token of tokens ? tokens.split("\n") : []) url.searchParams.append(LIVE_TOPIC_PARAM, token);
  return url.href;
}

function schedule(stream: Stream, delayMs: number): void {
  clearTimeout(stream.timer);
  stream.timer = setTimeout(() => connect(stream), delayMs);
}

/** (Re)opens the stream when its token set changed or the browser gave up on it. */
function connect(stream: Stream): void {
  stream.timer = undefined;
  if (streams.get(stream.url) !== stream) return;
  const tokens = tokensOf(stream);
  if (stream.source && stream.source.readyState !== EventSource.CLOSED && tokens === stream.tokens) return;
  stream.source?.close();
  const source = new EventSource(streamUrl(stream.url, tokens));
  stream.source = source;
  stream.tokens = tokens;
  stream.listened = new Set();
  stream.latest = new Map();
  source.addEventListener(LIVE_READY_EVENT, () => {
    stream.backoffMs = FIRST_BACKOFF_MS;
  });
  source.addEventListener(LIVE_REFUSED_EVENT, (message) => refuse(stream, parse(message) as Partial<LiveTopicRefused> | undefined));
  const giveUp = (message: string) => {
    source.close();
    refuse(stream, { code: "stream_closed", message });
    schedule(stream, stream.backoffMs);
    stream.backoffMs = Math.min(stream.backoffMs * 2, MAX_BACKOFF_MS);
  };
  // The server closes a stream that fell behind or is shutting down (EventSource reconnects and the
  // snapshot catches up), or the oldest of too many: reconnecting at once would close another tab's.
  source.addEventListener(LIVE_CLOSED_EVENT, (message) => {
    const closed = parse(message) as { code?: string; message?: string } | undefined;
    if (closed?.code === "too_many_streams") giveUp(String(closed.message));
  });
  source.addEventListener("error", () => {
    // CONNECTING: EventSource retries by itself. CLOSED: it gave up (an error status, not an event stream).
    if (source === stream.source && source.readyState === EventSource.CLOSED) giveUp("The server's event stream is not available.");
  });
  listenTo(stream, source);
}

/** Adds a listener to `source` for every event name a subscriber wants that it does not have yet. */
function listenTo(stream: Stream, source: EventSource): void {
  for (const subscription of stream.subscriptions) {
    for (const name of subscription.events) {
      if (stream.listened.has(name)) continue;
      stream.listened.add(name);
      source.addEventListener(name, (message) => deliver(stream, name, parse(message)));
    }
  }
}

function deliver(stream: Stream, name: string, data: unknown): void {
  const event = data as Partial<LiveEvent> | undefined;
  if (typeof event?.topic !== "string" || typeof event.version !== "number") return;
  stream.latest.set(`${event.topic}\n${name}`, { name, event: event as LiveEvent });
  for (const subscription of [...stream.subscriptions]) {
    const heard = subscription.kind ? topicKind(event.topic) === subscription.kind : subscription.topic === event.topic;
    if (heard && subscription.events.includes(name)) tell(subscription, event as LiveEvent);
  }
}

/**
 * Tells the subscribers of the refused topic; a refusal that names none (a token too damaged to read, or
 * the whole stream closed) concerns everyone, who can ask the server for the truth another way.
 */
function refuse(stream: Stream, data: (Partial<LiveRefusal> & { token?: string }) | undefined): void {
  if (typeof data?.code !== "string") return;
  const refusal: LiveRefusal = { code: data.code, message: String(data.message ?? ""), ...(data.topic ? { topic: data.topic } : {}) };
  for (const subscription of [...stream.subscriptions]) {
    const concerned = data.token ? subscription.token === data.token : data.topic ? subscription.topic === data.topic : true;
    if (concerned) tell(subscription, { topic: subscription.topic, event: LIVE_REFUSED_EVENT, data: refusal, version: 0 });
  }
}

/** One subscriber's mistake is reported, and the others still hear the event. */
function tell(subscription: Subscription, event: LiveChannelEvent): void {
  try {
    subscription.onEvent(event);
  } catch (error) {
    reportError(error);
  }
}

function parse(message: Event): unknown {
  try {
    return JSON.parse(String((message as MessageEvent).data));
  } catch {
    return undefined;
  }
}
