import { createHmac, timingSafeEqual } from "node:crypto";
import { AsyncUploadsError } from "./errors.js";
import type { LocalUrlClaims } from "./storage/types.js";

/**
 * Tokens for the filesystem backend's own upload and download routes: `base64url(JSON claims)` + "." +
 * `base64url(HMAC-SHA256)`. The claims carry the purpose, so an upload token can never download and
 * the other way round, and the key, size, type and expiry, so none of them can be changed.
 */
/** What a token is signed over: the driver's claims plus the field, which names the storage to use. */
export type SignedClaims = LocalUrlClaims & { fieldId: string };

export function signToken(claims: SignedClaims, secret: string): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  return `${payload}.${mac(payload, secret)}`;
}

/** Checks signature, purpose and expiry; throws `invalid_token` or `expired_token`. */
export function verifyToken<P extends LocalUrlClaims["purpose"]>(
  token: string,
  secret: string,
  purpose: P,
  now = Date.now(),
): Extract<LocalUrlClaims, { purpose: P }> & { fieldId: string } {
  const [payload, signature, extra] = token.split(".");
  if (!payload || !signature || extra !== undefined) throw invalid("the token is malformed");
  const expected = Buffer.from(mac(payload, secret));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw invalid("the token's signature does not match");
  }
  let claims: SignedClaims;
  try {
    claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as SignedClaims;
  } catch {
    throw invalid("the token is malformed");
  }
  if (claims.purpose !== purpose) throw invalid(`this token is not valid for ${purpose}`);
  if (typeof claims.expiresAt !== "number" || claims.expiresAt <= now) {
    throw new AsyncUploadsError("expired_token", "this link has expired; ask for a new one");
  }
  return claims as Extract<LocalUrlClaims, { purpose: P }> & { fieldId: string };
}

function mac(payload: string, secret: string): string {
  return createHmac("sha256", secret).update(payload).digest("base64url");
}

function invalid(message: string): AsyncUploadsError {
  return new AsyncUploadsError("invalid_token", message);
}
