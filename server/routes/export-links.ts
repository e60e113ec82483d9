import { Hono } from "hono";
import { AsyncUploadsError } from "../errors.js";
import { exportFieldId } from "../exports/exports.js";
import { mountPointOf, urlContextFor, type RouteDeps, type RoutesEnv } from "./deps.js";

/**
 * `GET {base}/e/{token}`: the signed links `onReady` hands the app (for an email). Redirects (302) to a
 * short-lived signed storage URL of the export's file, as an attachment. A requester-only link needs its
 * requester signed in; a general one anyone holding it. Refusals each have their own code: 403
 * `invalid_token` (malformed, tampered, another kind of token), `expired_token`, `not_requester`;
 * 401 when a requester-only link is opened signed out; 404 once the export is gone; 409 `not_ready`.
 */
export function exportLinkRoutes(deps: RouteDeps): Hono<RoutesEnv> {
  const app = new Hono<RoutesEnv>();

  app.use(async function noStore(c, next) {
    await next();
    c.header("Cache-Control", "private, no-store");
    c.header("Referrer-Policy", "no-referrer");
  });

  app.get("/:token", async (c) => {
    if (!deps.exports) throw new AsyncUploadsError("not_found", "This export no longer exists.");
    const principal = await deps.getPrincipal(c);
    const mountPoint = mountPointOf(c);
    const url = await deps.exports.linkDownloadUrl(
      c.req.param("token"),
      typeof principal === "string" && principal !== "" ? principal : null,
      (exportId) => urlContextFor(deps, mountPoint, exportFieldId(exportId)),
      deps.downloadUrlLifetimeMs,
    );
    return c.redirect(url, 302);
  });

  return app;
}
