import { Hono } from "hono";
import { processRequestSchema } from "../../shared/schemas.js";
import { AsyncUploadsError } from "../errors.js";
import type { RouteDeps, RoutesEnv } from "./deps.js";
import { jsonBody, requirePrincipal, sameOriginJson, smallBody } from "./guards.js";

/**
 * `POST {base}/process` `{key}` → 202 ProcessingState: starts (or, after `failed`, restarts) the
 * processing of this principal's uploaded file, as `shared/processing.ts` describes. The browser
 * calls it once the bytes landed, then follows `upload:<fileId>` on the events stream.
 */
export function processRoutes(deps: RouteDeps): Hono<RoutesEnv> {
  const app = new Hono<RoutesEnv>();

  app.post("/", sameOriginJson(deps.allowedOrigins), smallBody(), jsonBody(processRequestSchema), async (c) => {
    const { key } = c.req.valid("json");
    const principal = await requirePrincipal(c, deps.getPrincipal);
    if (!deps.processing) throw new AsyncUploadsError("not_found", "There is no such upload waiting to be checked.");
    const state = await deps.processing.request(principal, key);
    return c.json(state, 202, { "Cache-Control": "no-store" });
  });

  return app;
}
