import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { EXPORT_ID_PATTERN, type ExportListResponse, type ExportQueuedResponse, type ExportSummary } from "../../shared/exports.js";
import { contentDisposition } from "../storage/content-disposition.js";
import { AsyncUploadsError } from "../errors.js";
import { exportFieldId, type Exports } from "../exports/exports.js";
import { mountPointOf, urlContextFor, type RouteDeps, type RoutesEnv } from "./deps.js";
import { jsonBody, requirePrincipal, sameOriginJson, smallBody } from "./guards.js";

/** `POST {base}/exports`'s body (`ExportRequestBody`); the criteria are the app's to validate. */
const exportRequestSchema = z.strictObject({
  exportId: z.string().regex(EXPORT_ID_PATTERN, "exportId must be 1–100 letters, digits or . _ -"),
  criteria: z.unknown(),
});

/**
 * The person's exports (issue 15; `shared/exports.ts` has the wire):
 * - `POST {base}/exports` → 200 the file now (attachment) or 202 `ExportQueuedResponse`;
 * - `GET {base}/exports` → `ExportListResponse`; `GET {base}/exports/{id}` → `ExportSummary`;
 * - `POST {base}/exports/{id}/cancel`, `POST {base}/exports/{id}/retry` → 202 `ExportQueuedResponse`;
 * - `DELETE {base}/exports/{id}` → 204; `GET {base}/exports/{id}/file` → 302 to a short-lived signed URL.
 * Only our own ids are accepted (never a key or path), and another principal's id is 404 everywhere.
 */
export function exportsRoutes(deps: RouteDeps): Hono<RoutesEnv> {
  const app = new Hono<RoutesEnv>();
  const exportsOf = (): Exports => {
    if (!deps.exports) throw new AsyncUploadsError("unknown_export", "There is no such export.");
    return deps.exports;
  };
  const queued = (service: Exports, summary: ExportSummary, principal: string): ExportQueuedResponse => ({
    export: summary,
    topicToken: service.topicToken(summary.id, principal),
  });
  // Answers carry the person's own data: never stored by a shared cache.
  app.use(async function noStore(c, next) {
    await next();
    c.header("Cache-Control", "private, no-store");
  });

  app.post("/", sameOriginJson(deps.allowedOrigins), smallBody(), jsonBody(exportRequestSchema), async (c) => {
    const { exportId, criteria } = c.req.valid("json");
    const principal = await requirePrincipal(c, deps.getPrincipal);
    const service = exportsOf();
    const result = await service.request({ exportId, criteria, principal });
    if ("queued" in result) return c.json(queued(service, result.queued, principal), 202);
    return new Response(result.now, {
      status: 200,
      headers: {
        "Content-Type": result.contentType,
        "Content-Disposition": contentDisposition(result.filename),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
      },
    });
  });

  app.get("/", async (c) => {
    const principal = await requirePrincipal(c, deps.getPrincipal);
    const body: ExportListResponse = { exports: await exportsOf().list(principal) };
    return c.json(body);
  });

  app.get("/:id", async (c) => {
    const principal = await requirePrincipal(c, deps.getPrincipal);
    return c.json(await exportsOf().get(c.req.param("id"), principal));
  });

  app.get("/:id/file", async (c) => {
    const principal = await requirePrincipal(c, deps.getPrincipal);
    const mountPoint = mountPointOf(c);
    const url = await exportsOf().downloadUrl(c.req.param("id"), principal, (exportId) => urlContextFor(deps, mountPoint, exportFieldId(exportId)), deps.downloadUrlLifetimeMs);
    return c.redirect(url, 302);
  });

  const sameSite = sameOrigin(deps.allowedOrigins);

  app.post("/:id/cancel", sameSite, async (c) => {
    const principal = await requirePrincipal(c, deps.getPrincipal);
    const service = exportsOf();
    return c.json(queued(service, await service.cancel(c.req.param("id"), principal), principal), 202);
  });

  app.post("/:id/retry", sameSite, async (c) => {
    const principal = await requirePrincipal(c, deps.getPrincipal);
    const service = exportsOf();
    return c.json(queued(service, await service.retry(c.req.param("id"), principal), principal), 202);
  });

  app.delete("/:id", sameSite, async (c) => {
    const principal = await requirePrincipal(c, deps.getPrincipal);
    await exportsOf().clear(c.req.param("id"), principal);
    return c.body(null, 204);
  });

  return app;
}

/**
 * Cross-site request forgery protection for the body-less actions (cancel, retry, clear): a browser
 * that says where the request comes from (`Origin`, `Sec-Fetch-Site`) must name the page's own origin
 * or one the app allowed. A cross-site form can POST without a preflight, so this is the guard.
 */
function sameOrigin(allowedOrigins: readonly string[]): MiddlewareHandler {
  return async function sameOriginGuard(c, next) {
    const origin = c.req.header("origin");
    if (origin !== undefined && origin !== new URL(c.req.url).origin && !allowedOrigins.includes(origin)) {
      throw new AsyncUploadsError("forbidden", "Requests from this origin are not allowed.");
    }
    if (origin === undefined && c.req.header("sec-fetch-site") === "cross-site") {
      throw new AsyncUploadsError("forbidden", "Cross-site requests are not allowed.");
    }
    await next();
  };
}
