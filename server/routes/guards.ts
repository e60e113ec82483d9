import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { validator } from "hono/validator";
import type { z } from "zod";
import { AsyncUploadsError } from "../errors.js";

/** JSON bodies of our routes are a few hundred bytes; anything much larger is abuse. */
export const MAX_JSON_BODY_BYTES = 16 * 1024;

/**
 * Cross-site request forgery protection for the JSON routes used by same-site pages. A JSON body
 * cannot be sent cross-site without a CORS preflight (which we never answer), and a browser that sends
 * `Origin` or `Sec-Fetch-Site` must show the page's own origin or one the app allowed.
 */
export function sameOriginJson(allowedOrigins: readonly string[]): MiddlewareHandler {
  return async function sameOriginJsonGuard(c, next) {
    const contentType = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
    if (contentType !== "application/json") {
      throw new AsyncUploadsError("invalid_request", "Send the request body as JSON (Content-Type: application/json).");
    }
    const origin = c.req.header("origin");
    // The page's own origin is only worked out when there is an Origin to compare (a URL parse each request).
    if (origin !== undefined && origin !== new URL(c.req.url).origin && !allowedOrigins.includes(origin)) {
      throw new AsyncUploadsError("forbidden", "Requests from this origin are not allowed.");
    }
    if (origin === undefined && c.req.header("sec-fetch-site") === "cross-site") {
      throw new AsyncUploadsError("forbidden", "Cross-site requests are not allowed.");
    }
    await next();
  };
}

/** Refuses bodies over `maxSize` bytes while reading them, before parsing. */
export function smallBody(maxSize = MAX_JSON_BODY_BYTES): MiddlewareHandler {
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new AsyncUploadsError("invalid_request", `The request body is larger than ${maxSize} bytes.`);
    },
  });
}

/**
 * Parses the JSON body and validates it with a shared schema, for the handler to read with
 * `c.req.valid("json")`. Malformed JSON is refused by Hono's validator (an HTTPException 400, rendered
 * as `invalid_request`); the first problem the schema finds becomes `invalid_request` here.
 */
export function jsonBody<T extends z.ZodType>(schema: T) {
  return validator("json", function validateJsonBody(value: unknown): z.infer<T> {
    return parseBody(schema, value);
  });
}

/** Validates a parsed body with a shared schema; the first problem becomes `invalid_request`. */
export function parseBody<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
  throw new AsyncUploadsError("invalid_request", `${where}${issue?.message ?? "invalid body"}`);
}

/** The principal, or `unauthenticated` when there is none. */
export async function requirePrincipal(
  c: Context,
  getPrincipal: (c: Context) => string | null | Promise<string | null>,
): Promise<string> {
  const principal = await getPrincipal(c);
  if (typeof principal !== "string" || principal === "") {
    throw new AsyncUploadsError("unauthenticated", "Sign in (or enable cookies) to continue.");
  }
  return principal;
}
