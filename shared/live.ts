// The wire of the live channel (`GET {base}/events`, Server-Sent Events), shared by the server that
// writes it and the browser that reads it. No Node or DOM imports.

/**
 * One event as the stream delivers it: SSE `event: <event>`, `id: <opaque>`, `data: JSON.stringify(LiveEvent)`.
 * `version` orders the states of one topic (the database is the truth; a lower version than one already
 * seen is stale and may be dropped); 0 when the publisher gave none.
 */
export interface LiveEvent<T = unknown> {
  topic: string;
  event: string;
  data: T;
  version: number;
}

/** Sent first on every (re)connection (SSE event `ready`): the window topic of this stream, `window:<id>`. */
export interface LiveReady {
  window: string;
}

/** Why a topic was refused. */
export type LiveRefusalCode = "invalid_token" | "expired_token" | "forbidden_topic" | "too_many_topics";

/**
 * A topic the stream may not hear (SSE event `topic-refused`); the rest of the stream stays open.
 * `topic` is absent when the token was too damaged to name one.
 */
export interface LiveTopicRefused {
  topic?: string;
  code: LiveRefusalCode;
  message: string;
}

/**
 * The last event of a stream the server ends on purpose (SSE event `stream-closed`), just before it
 * closes. `too_many_streams`: this principal opened more streams than the server keeps, and this was the
 * oldest; a client should not reconnect on its own (it would close another tab's stream in turn).
 * `too_slow`: the client did not read its events; `shutting_down`: the instance stops; `missed_events`:
 * the instance's fan-out had a gap (its LISTEN reconnected). After these a reconnect is right (the
 * snapshot brings back what was missed); a client should treat an unknown code the same way.
 */
export interface LiveStreamClosed {
  code: "too_many_streams" | "too_slow" | "shutting_down" | "missed_events";
  message: string;
}

/** SSE event names the server itself uses; `publish` refuses them. */
export const LIVE_READY_EVENT = "ready";
export const LIVE_REFUSED_EVENT = "topic-refused";
export const LIVE_CLOSED_EVENT = "stream-closed";
export const LIVE_RESERVED_EVENTS: readonly string[] = [LIVE_READY_EVENT, LIVE_REFUSED_EVENT, LIVE_CLOSED_EVENT, "message", "error", "open"];

/**
 * A topic: `broadcast`, or `<kind>:<id>` — `user:<principal>`, `window:<id>`, `upload:<fileId>`,
 * `export:<id>`, or an app's own kind (`document:42`). The id is printable ASCII without spaces, so a
 * topic is safe in a URL, a log line and a NOTIFY payload.
 */
export const LIVE_TOPIC = /^(?:broadcast|[a-z][a-z0-9_-]{0,39}:[\x21-\x7e]{1,200})$/;

/** An event name: lower-case, short, safe on an SSE `event:` line. */
export const LIVE_EVENT_NAME = /^[a-z][a-z0-9_.-]{0,63}$/;

/** The kind of a topic (`upload` of `upload:123`; `broadcast` of `broadcast`). */
export function topicKind(topic: string): string {
  const colon = topic.indexOf(":");
  return colon === -1 ? topic : topic.slice(0, colon);
}

/** The id of a topic (`123` of `upload:123`; "" of `broadcast`). */
export function topicId(topic: string): string {
  const colon = topic.indexOf(":");
  return colon === -1 ? "" : topic.slice(colon + 1);
}

/** The query parameter carrying topic tokens: `GET {base}/events?topic=<token>&topic=<token>`. */
export const LIVE_TOPIC_PARAM = "topic";
