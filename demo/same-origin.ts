import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Lets an unsafe request (POST, PUT, PATCH, DELETE…) through only when the browser says it came from
 * the demo's own pages, whatever its Content-Type; anything else is a 403 before the body is read.
 *
 * Why not `hono/csrf`: it checks only the body types a cross-site HTML form can send (urlencoded,
 * multipart, text/plain) and lets `application/json` or `application/octet-stream` through from any
 * origin, counting on CORS preflight; a route that acts on its cookie should not depend on that. It
 * also accepts a request when either header passes, so `Sec-Fetch-Site: cross-site` beside a matching
 * Origin got in.
 *
 * The rules, deliberately:
 * - every header present must say "same origin": `Sec-Fetch-Site: same-origin` (not `same-site`: a
 *   sibling subdomain is another app) and an `Origin` equal to the request URL's origin;
 * - `Origin: null` is refused: an opaque origin (sandboxed frame, `data:` page, a redirect that crossed
 *   origins) is never one of our pages, whose forms post to their own origin;
 * - a request with neither header is refused: every browser the demo supports sends `Origin` on a
 *   POST, so only non-browser clients and very old browsers omit both, and refusing them costs the demo
 *   nothing (a script posting its forms can send `Origin` itself).
 * Behind a proxy that terminates TLS the request URL is `http:` while browsers send `https:`: like the
 * cookie's `Secure` flag, that is left to a real app, which compares with its configured public origin.
 */
export function sameOriginWrites(): MiddlewareHandler {
  return async function sameOriginWritesMiddleware(c, next) {
    if (!SAFE_METHODS.has(c.req.method)) {
      const site = c.req.header("sec-fetch-site");
      const origin = c.req.header("origin");
      const fromOurPages =
        (site !== undefined || origin !== undefined) &&
        (site === undefined || site === "same-origin") &&
        (origin === undefined || origin === new URL(c.req.url).origin);
      if (!fromOurPages) throw new HTTPException(403, { message: "This form was sent from another site." });
    }
    await next();
  };
}
