import type { Context, MiddlewareHandler } from "hono";
import { basePath } from "hono/route";
import type { Database } from "../db/database.js";
import type { LiveServer } from "../live/live-channel.js";
import type { Exports } from "../exports/exports.js";
import type { UploadProcessing } from "../processing/upload-processing.js";
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
  /** Declared bytes of one principal's unsaved uploads; undefined for the field-aware default. */
  maxPendingBytesPerPrincipal: number | undefined;
  /** Declared bytes of everybody's unsaved uploads; undefined for the field-aware default. */
  maxPendingBytes: number | undefined;
  /** Origins besides the request's own that may call the JSON routes. */
  allowedOrigins: readonly string[];
  now: () => Date;
  /** Where work left for cleanup is reported (e.g. a canceled chunked upload the storage would not abort). */
  log: (message: string, error: unknown) => void;
  /** The live channel (`GET /events`, publishing, topic tokens). */
  live: LiveServer;
  /** Upload processing (`POST /process`, the `processing` plan of `upload-url`). */
  processing?: UploadProcessing;
  /** Exports (`{base}/exports`, `{base}/e/<token>`). */
  exports?: Exports;
}

/** The Hono env of the routes: where the app mounted them, recorded once per request by `recordMountPoint`. */
export interface RoutesEnv {
  Variables: { asyncUploadsMountPoint: string };
}

/**
 * Records where the app mounted the routes (`/async-uploads`; "" at the root) for the handlers that
 * build URLs to our own routes. Registered on the routes' own app, so Hono's `basePath(c)` of this
 * middleware is exactly the app's mount point, its parameters filled in.
 */
export const recordMountPoint: MiddlewareHandler<RoutesEnv> = async function recordMountPoint(c, next) {
  c.set("asyncUploadsMountPoint", basePath(c).replace(/\/$/, ""));
  await next();
};

/** Where the app mounted the routes, as `recordMountPoint` found it. */
export function mountPointOf(c: Context<RoutesEnv>): string {
  return c.get("asyncUploadsMountPoint");
}

/**
 * The URL context handed to a field's storage driver: signs local URLs for this field under the
 * routes' mount point. They are root-relative, so they keep working behind proxies that change
 * scheme or host.
 */
export function urlContextFor(deps: RouteDeps, mountPoint: string, fieldId: string): UrlContext {
  return {
    localUrl: (claims) => `${mountPoint}/fs/${claims.purpose}/${signToken({ ...claims, fieldId }, deps.secret)}`,
  };
}
