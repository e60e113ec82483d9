import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import { streamSSE, type SSEStreamingApi } from "hono/streaming";
import {
  LIVE_CLOSED_EVENT,
  LIVE_READY_EVENT,
  LIVE_REFUSED_EVENT,
  LIVE_TOPIC_PARAM,
  type LiveEvent,
  type LiveReady,
  type LiveStreamClosed,
  type LiveTopicRefused,
} from "../../shared/live.js";
import { userTopic, type LiveServer } from "../live/live-channel.js";
import { verifyTopicToken } from "../live/topic-tokens.js";
import { AsyncUploadsError } from "../errors.js";
import type { RouteDeps, RoutesEnv } from "./deps.js";
import { requirePrincipal } from "./guards.js";

/** Events a stream keeps for a client that does not read; past it the stream closes (the reconnect brings a snapshot). */
const MAX_QUEUED_EVENTS = 256;
/** How long a closing stream may take to write its last bytes before its socket is dropped. */
const CLOSE_GRACE_MS = 5000;

/**
 * `GET {base}/events`: the live channel, one Server-Sent Events stream per browser tab. It hears
 * `user:<principal>`, `broadcast`, its own `window:<id>` and the object topics of valid `?topic=`
 * tokens; it sends `ready`, the refusals, the snapshot of each object topic, then live events.
 */
export function eventsRoutes(deps: RouteDeps, live: LiveServer): Hono<RoutesEnv> {
  const app = new Hono<RoutesEnv>();
  app.get("/", async (c) => {
    refuseCrossSite(c.req.raw, deps.allowedOrigins);
    const principal = await requirePrincipal(c, deps.getPrincipal);
    const { topics, refusals } = grantedTopics(live, c.req.queries(LIVE_TOPIC_PARAM) ?? [], principal);
    if (c.req.method === "HEAD") {
      // Hono answers HEAD with the GET handler and drops the body: a stream opened for it would never be read or closed.
      return c.body(null, 200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
    }
    if (live.hub.streamCount >= live.settings.maxStreams && live.hub.wouldGrow(principal)) {
      throw new AsyncUploadsError("live_unavailable", "This server holds as many live streams as it can; try again in a moment.");
    }
    // The instance's one LISTEN starts with its first stream: a database that cannot listen is an answer, not a silent stream.
    await live.ready().catch((error: unknown) => {
      live.log("could not listen for live events", error);
      throw new AsyncUploadsError("live_unavailable", "Live events are unavailable right now; try again in a moment.", { cause: error });
    });
    c.header("X-Accel-Buffering", "no"); // nginx would otherwise hold events back in its buffer
    return streamSSE(c, (stream) => runStream(live, stream, principal, topics, refusals, c.req.raw.signal));
  });
  return app;
}

/**
 * A stream costs the person one of their `maxStreamsPerPrincipal` slots, and opening one closes their
 * oldest: a page on another site must not open streams with the person's cookies (an EventSource with
 * `withCredentials`) to push their own tabs' streams out. Same rule as the JSON routes' guard.
 */
function refuseCrossSite(request: Request, allowedOrigins: readonly string[]): void {
  const origin = request.headers.get("origin");
  if (origin !== null && origin !== new URL(request.url).origin && !allowedOrigins.includes(origin)) {
    throw new AsyncUploadsError("forbidden", "Live events from this origin are not allowed.");
  }
  if (origin === null && request.headers.get("sec-fetch-site") === "cross-site") {
    throw new AsyncUploadsError("forbidden", "Cross-site requests are not allowed.");
  }
}

/** The object topics the tokens open for `principal`, and a refusal for each one they do not. */
function grantedTopics(live: LiveServer, tokens: string[], principal: string): { topics: string[]; refusals: LiveTopicRefused[] } {
  const topics: string[] = [];
  const refusals: LiveTopicRefused[] = [];
  const max = live.settings.maxTopicsPerStream;
  for (const token of tokens.slice(0, max)) {
    const verdict = verifyTopicToken(token, principal, live.secret, live.now());
    if ("refused" in verdict) refusals.push(verdict.refused);
    else if (!topics.includes(verdict.topic)) topics.push(verdict.topic);
  }
  if (tokens.length > max) {
    refusals.push({ code: "too_many_topics", message: `A stream follows at most ${max} topics; ${tokens.length - max} more were left out.` });
  }
  return { topics, refusals };
}

/** One event goes to every stream that hears its topic (a broadcast: all of them): serialised once. */
const serialised = new WeakMap<LiveEvent, string>();
function serialise(event: LiveEvent): string {
  let text = serialised.get(event);
  if (text === undefined) serialised.set(event, (text = JSON.stringify(event)));
  return text;
}

let lastEventId = 0;
/** Opaque, increasing ids: a reconnect carries one back as `Last-Event-ID`; the snapshot makes replay unnecessary. */
const nextEventId = () => `${Date.now().toString(36)}-${(++lastEventId).toString(36)}`;

async function runStream(
  live: LiveServer,
  stream: SSEStreamingApi,
  principal: string,
  objectTopics: string[],
  refusals: LiveTopicRefused[],
  requestSignal: AbortSignal,
): Promise<void> {
  const windowTopic = `window:${randomUUID()}`;
  const queue: LiveEvent[] = [];
  let closing = false;
  let closeReason: LiveStreamClosed | undefined;
  let heartbeatDue = false;
  let wake: (() => void) | undefined;
  const kick = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const aborted = () => finish();

  // Listening starts before the snapshot is read, and what arrives meanwhile waits in the queue: an
  // event published between the snapshot's query and the first live event is not lost.
  const unlisten = live.hub.listen([userTopic(principal), "broadcast", windowTopic, ...objectTopics], (event) => {
    if (queue.length >= MAX_QUEUED_EVENTS) return finish({ code: "too_slow", message: "The stream fell behind; reconnect to catch up." });
    queue.push(event);
    kick();
  });
  const slot = live.hub.admit(principal, () =>
    finish({ code: "too_many_streams", message: "Too many live streams are open for you; this one, the oldest, was closed." }),
  );
  const untrack = live.track(
    () => finish({ code: "shutting_down", message: "The server is restarting; reconnect." }),
    () => finish({ code: "missed_events", message: "Some events may have been missed; reconnect to catch up." }),
  );
  const heartbeat = setInterval(() => {
    heartbeatDue = true;
    kick();
  }, live.settings.heartbeatMs);
  let dropTimer: NodeJS.Timeout | undefined;

  /** Frees everything the stream holds at once (a closed tab, an evicted or overfull stream, close()); idempotent. */
  function finish(reason?: LiveStreamClosed): void {
    if (closing) return;
    closing = true;
    closeReason = reason;
    unlisten();
    slot.release();
    untrack();
    clearInterval(heartbeat);
    requestSignal.removeEventListener("abort", aborted);
    // A client that stopped reading would keep the last write (and its socket) waiting forever.
    dropTimer = setTimeout(() => stream.abort(), CLOSE_GRACE_MS);
    dropTimer.unref();
    kick();
  }
  stream.onAbort(aborted);
  requestSignal.addEventListener("abort", aborted, { once: true });
  if (requestSignal.aborted) finish();

  const send = (event: string, data: unknown) => stream.writeSSE({ event, data: JSON.stringify(data), id: nextEventId() });
  try {
    await send(LIVE_READY_EVENT, { window: windowTopic } satisfies LiveReady);
    for (const refusal of refusals) await send(LIVE_REFUSED_EVENT, refusal);
    for (const topic of objectTopics) {
      if (closing) break;
      const snapshot = await live.snapshot(topic, principal);
      if (snapshot) await send(snapshot.event, snapshot);
    }
    while (!closing) {
      const event = queue.shift();
      if (event) {
        await stream.writeSSE({ event: event.event, data: serialise(event), id: nextEventId() });
      } else if (heartbeatDue) {
        heartbeatDue = false;
        await stream.write(": heartbeat\n\n");
      } else {
        await new Promise<void>((resolve) => (wake = resolve));
      }
    }
    if (closeReason && !stream.aborted) await send(LIVE_CLOSED_EVENT, closeReason);
  } finally {
    // The drop timer stays: hono's close after this still waits for a client that does not read.
    finish();
  }
}
