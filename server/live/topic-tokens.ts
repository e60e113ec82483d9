import { createHmac, timingSafeEqual } from "node:crypto";
import { LIVE_TOPIC, type LiveTopicRefused } from "../../shared/live.js";

/**
 * Topic tokens: what lets a stream hear an object topic (`upload:<id>`). The same shape as the
 * filesystem tokens of server/tokens.ts — `base64url(JSON claims)` + "." + `base64url(HMAC-SHA256)` with
 * the app secret — and bound to a purpose ("topic"), so neither kind of token passes for the other,
 * to one principal, one topic and an expiry. Short claim names keep 50 tokens within a URL.
 */
interface TopicClaims {
  /** Purpose: always "topic". */
  p: "topic";
  /** The principal that may use it. */
  s: string;
  /** The topic it opens. */
  t: string;
  /** Expiry, in milliseconds since the epoch. */
  x: number;
}

/** Signs a token that lets `principal` hear `topic` until `expiresAt` (ms since the epoch). */
export function signTopicToken(topic: string, principal: string, expiresAt: number, secret: string): string {
  if (!LIVE_TOPIC.test(topic)) throw new Error(`[async-uploads] "${topic}" is not a topic (e.g. "upload:<id>")`);
  if (typeof principal !== "string" || principal === "") throw new Error("[async-uploads] a topic token needs a principal");
  const claims: TopicClaims = { p: "topic", s: principal, t: topic, x: expiresAt };
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  return `${payload}.${mac(payload, secret)}`;
}

/** The topic a token opens for `principal`, or the refusal to send on the stream. */
export function verifyTopicToken(
  token: string,
  principal: string,
  secret: string,
  now: number,
): { topic: string } | { refused: LiveTopicRefused } {
  const [payload, signature, extra] = token.split(".");
  const claims = payload ? readClaims(payload) : null;
  // Named in a refusal only when it is a well-formed topic: the client sent it, so echoing it tells nothing new.
  const named = typeof claims?.t === "string" && LIVE_TOPIC.test(claims.t) ? { topic: claims.t } : {};
  const refuse = (code: LiveTopicRefused["code"], message: string) => ({ refused: { ...named, code, message } });
  if (!payload || !signature || extra !== undefined || !claims) return refuse("invalid_token", "The topic token is malformed.");
  const expected = Buffer.from(mac(payload, secret));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return refuse("invalid_token", "The topic token's signature does not match.");
  }
  if (claims.p !== "topic" || !named.topic) return refuse("invalid_token", "This token is not a topic token.");
  if (typeof claims.x !== "number" || claims.x <= now) {
    return refuse("expired_token", "The topic token has expired; reload the page to follow this topic again.");
  }
  if (claims.s !== principal) return refuse("forbidden_topic", "This topic token was issued to someone else.");
  return { topic: named.topic };
}

function readClaims(payload: string): Partial<TopicClaims> | null {
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    return claims !== null && typeof claims === "object" ? (claims as Partial<TopicClaims>) : null;
  } catch {
    return null;
  }
}

function mac(payload: string, secret: string): string {
  return createHmac("sha256", secret).update(payload).digest("base64url");
}
