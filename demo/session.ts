import { createHmac } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { getSignedCookie, setSignedCookie } from "hono/cookie";

/** Name of the anonymous session cookie. */
export const SESSION_COOKIE = "demo_session";
const SESSION_ID = /^[0-9a-f-]{36}$/;
const ONE_YEAR_SECONDS = 365 * 24 * 60 * 60;

export type SessionVariables = { session: string };

/**
 * The cookie is signed with a key derived from the app secret rather than the secret itself, so a
 * signature made for one purpose (cookies) can never be replayed as another (filesystem upload tokens).
 */
export function sessionKey(secret: string): string {
  return createHmac("sha256", secret).update("async-uploads demo: session cookie").digest("hex");
}

/** The session id from a valid signed cookie, or null (missing, tampered with, or malformed). */
export async function readSession(c: Context, key: string): Promise<string | null> {
  const value = await getSignedCookie(c, key, SESSION_COOKIE);
  return typeof value === "string" && SESSION_ID.test(value) ? value : null;
}

/**
 * Gives every visitor an anonymous session: the id is the principal that uploads belong to, so an
 * upload can only be saved by the browser that made it. `HttpOnly` keeps scripts from reading it;
 * `SameSite=Lax` keeps other sites from posting forms with it.
 */
export function anonymousSession(key: string): MiddlewareHandler<{ Variables: SessionVariables }> {
  return async function anonymousSessionMiddleware(c, next) {
    let session = await readSession(c, key);
    if (session === null) {
      session = crypto.randomUUID();
      await setSignedCookie(c, SESSION_COOKIE, session, key, {
        path: "/",
        httpOnly: true,
        sameSite: "Lax",
        secure: new URL(c.req.url).protocol === "https:",
        maxAge: ONE_YEAR_SECONDS,
      });
    }
    c.set("session", session);
    await next();
  };
}
