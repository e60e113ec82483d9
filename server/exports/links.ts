import { createHmac, timingSafeEqual } from "node:crypto";
import { AsyncUploadsError } from "../errors.js";

/**
 * Export link tokens (`GET {base}/e/<token>`, the links `onReady` hands the app to email):
 * `base64url(JSON claims)` + "." + `base64url(HMAC-SHA256)` with the app secret, like the filesystem and
 * topic tokens, but of their own purpose ("export-link"), so none of the three passes for another.
 */
interface LinkClaims {
  /** Purpose: always "export-link". */
  p: "export-link";
  /** The export's id. */
  i: string;
  /** The requester, who alone may use it; absent on a general link (anyone holding it may). */
  s?: string;
  /** Expiry, in milliseconds since the epoch. */
  x: number;
}

/** Signs a link to export `id`: for `principal` only, or for anyone holding it when `principal` is null. */
export function signExportLink(id: string, principal: string | null, expiresAt: number, secret: string): string {
  const claims: LinkClaims = principal === null ? { p: "export-link", i: id, x: expiresAt } : { p: "export-link", i: id, s: principal, x: expiresAt };
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  return `${payload}.${mac(payload, secret)}`;
}

/**
 * The export a link token opens for whoever asks (`principal`, null when nobody is signed in). Each
 * refusal has its own code: `invalid_token` (malformed, tampered, another purpose), `expired_token`,
 * `unauthenticated` (a requester-only link and nobody signed in: signing in may help),
 * `not_requester` (someone else's requester-only link).
 */
export function verifyExportLink(token: string, principal: string | null, secret: string, now: number): { id: string } {
  const invalid = (why: string) => new AsyncUploadsError("invalid_token", `This download link is not valid (${why}).`);
  const [payload, signature, extra] = token.split(".");
  if (!payload || !signature || extra !== undefined) throw invalid("it is malformed");
  const expected = Buffer.from(mac(payload, secret));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid("its signature does not match");
  let claims: Partial<LinkClaims> | null;
  try {
    claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Partial<LinkClaims> | null;
  } catch {
    throw invalid("it is malformed");
  }
  if (claims === null || typeof claims !== "object" || claims.p !== "export-link" || typeof claims.i !== "string") throw invalid("it is not an export link");
  if (typeof claims.x !== "number" || claims.x <= now) throw new AsyncUploadsError("expired_token", "This download link has expired; ask for the export again.");
  if (claims.s !== undefined) {
    if (principal === null) throw new AsyncUploadsError("unauthenticated", "Sign in to download this export.");
    if (claims.s !== principal) throw new AsyncUploadsError("not_requester", "This download link belongs to the person who asked for the export.");
  }
  return { id: claims.i };
}

function mac(payload: string, secret: string): string {
  return createHmac("sha256", secret).update(payload).digest("base64url");
}
