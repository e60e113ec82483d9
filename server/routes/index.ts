import { Hono } from "hono";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { AsyncUploadsError } from "../errors.js";
import { recordMountPoint, type RouteDeps } from "./deps.js";
import { downloadRoutes } from "./download.js";
import { eventsRoutes } from "./events.js";
import { exportLinkRoutes } from "./export-links.js";
import { exportsRoutes } from "./exports.js";
import { filesystemRoutes } from "./filesystem.js";
import { multipartRoutes } from "./multipart.js";
import { processRoutes } from "./process.js";
import { settleRequestBody } from "./request-body.js";
import { uploadUrlRoutes } from "./upload-url.js";

/** All routes of the HTTP contract, to mount where the app likes (`app.route("/async-uploads", routes)`). */
export function createRoutes(deps: RouteDeps): Hono {
  const app = new Hono();
  // First, so that every answer, refusals included, leaves the connection reusable or says it closes.
  app.use(settleRequestBody);
  app.use(recordMountPoint);
  app.route("/upload-url", uploadUrlRoutes(deps));
  app.route("/fs", filesystemRoutes(deps));
  app.route("/multipart", multipartRoutes(deps));
  app.route("/download", downloadRoutes(deps));
  app.route("/process", processRoutes(deps));
  app.route("/events", eventsRoutes(deps, deps.live));
  app.route("/exports", exportsRoutes(deps));
  app.route("/e", exportLinkRoutes(deps));
  // A catch-all route, not `notFound`: once mounted with `app.route`, a sub-app's `notFound` is never
  // asked (the app's own answers), and an unknown path under the mount point must still get the contract's JSON.
  app.all("*", () => {
    throw new AsyncUploadsError("not_found", "There is no such route.");
  });
  app.onError(renderError);
  return app;
}

/** Renders every error as `{error: {code, message}}`; unexpected ones are logged and told apart from nothing. */
export function renderError(error: Error, c: Context): Response {
  if (error instanceof AsyncUploadsError) return c.json(error.toBody(), error.status);
  if (error instanceof HTTPException && error.status < 500) {
    return c.json({ error: { code: "invalid_request", message: error.message || "The request is not valid." } }, error.status);
  }
  console.error("[async-uploads] unexpected error", error);
  return c.json({ error: { code: "internal_error", message: "Something went wrong on our side. Please try again." } }, 500);
}
