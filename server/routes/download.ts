import { Hono } from "hono";
import { INSTANCE_ID } from "../../shared/schemas.js";
import { AsyncUploadsError } from "../errors.js";
import { basenameOfKey } from "../keys.js";
import { mountPointOf, urlContextFor, type RouteDeps, type RoutesEnv } from "./deps.js";
import { requirePrincipal } from "./guards.js";

/**
 * `GET {base}/download/{fieldId}/{instanceId}[?key=…]`: after the field's `canDownload`, redirects to a
 * short-lived signed URL of the stored file. `key` picks one file of a `multiple` field; it must be
 * one of the keys `resolveKey` returns, so it can never name another record's file.
 */
export function downloadRoutes(deps: RouteDeps): Hono<RoutesEnv> {
  const app = new Hono<RoutesEnv>();

  // The redirect must never be cached: it carries a signature and follows a permission check.
  app.use(async function noStore(c, next) {
    await next();
    c.header("Cache-Control", "private, no-store");
  });

  app.get("/:fieldId/:instanceId", async (c) => {
    const { fieldId, instanceId } = c.req.param();
    const field = deps.registry.get(fieldId);
    if (!field || !INSTANCE_ID.test(instanceId)) throw new AsyncUploadsError("not_found", "There is no such file.");
    const principal = await requirePrincipal(c, deps.getPrincipal);
    if (!(await field.canDownload({ principal, instanceId, fieldId }))) {
      throw new AsyncUploadsError("forbidden", "You may not download this file.");
    }
    const resolved = field.resolveKey ? await field.resolveKey({ instanceId, fieldId }) : null;
    const keys = resolved === null ? [] : typeof resolved === "string" ? [resolved] : [...resolved];
    const wanted = c.req.query("key");
    const key = wanted === undefined ? keys[0] : keys.find((candidate) => candidate === wanted);
    if (!key) throw new AsyncUploadsError("not_found", "There is no such file.");

    const url = await field.storage.createDownloadUrl(
      {
        key,
        filename: basenameOfKey(key),
        // S3 and Azure would otherwise answer with the Content-Type the uploader declared (text/html
        // in a field that accepts anything); every backend serves bytes as bytes, like the filesystem route.
        contentType: "application/octet-stream",
        expiresAt: new Date(deps.now().getTime() + deps.downloadUrlLifetimeMs),
      },
      urlContextFor(deps, mountPointOf(c), field.id),
    );
    return c.redirect(url, 302);
  });

  return app;
}
