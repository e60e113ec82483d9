import type { Context } from "hono";
import type { Database } from "../db/database.js";
import type { FieldRegistry } from "../registry.js";
import type { UrlContext } from "../storage/types.js";
import { signToken } from "../tokens.js";

/** What the routes need from `createAsyncUploads`; every field is already validated and defaulted. */
export interface RouteDeps {
  db: Database;
  registry: FieldRegistry;
  secret: string;
  getPrincipal: (c: Context) => string | null | Promise<string | null>;
  tempPrefix: string;
  uploadUrlLifetimeMs: number;
  downloadUrlLifetimeMs: number;
  tempFileLifetimeMs: number;
  maxPendingUploadsPerPrincipal: number;
  /** Origins besides the request's own that may call the JSON routes. */
  allowedOrigins: readonly string[];
  now: () => Date;
  /** Where work left for cleanup is reported (e.g. a canceled chunked upload the storage would not abort). */
  log: (message: string, error: unknown) => void;
}

/**
 * The mount point of the routes, from the path of the current request: `/async-uploads/upload-url`
 * minus the route's own suffix. URLs to our own routes are root-relative, so they keep working behind
 * proxies that change scheme or host.
 */
export function basePathOf(c: Context, suffixStart: string): string {
  const path = c.req.path;
  const at = path.lastIndexOf(suffixStart);
  return at <= 0 ? "" : path.slice(0, at);
}

/** The URL context handed to a field's storage driver: signs local URLs for this field. */
export function urlContextFor(deps: RouteDeps, basePath: string, fieldId: string): UrlContext {
  return {
    localUrl: (claims) => `${basePath}/fs/${claims.purpose}/${signToken({ ...claims, fieldId }, deps.secret)}`,
  };
}
