import { readFile } from "node:fs/promises";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AsyncUploads } from "async-uploads/server";
import { createDemoUploads, type DemoUploadsOptions } from "./fields";
import { UPLOADS_BASE, forbiddenPage, notFoundPage, requestRefusedPage, serverErrorPage } from "./pages/documents";
import { COMPONENT_SCRIPT_PATH } from "./pages/layout";
import { documentRoutes } from "./routes";
import { sessionKey } from "./session";

export interface DemoAppOptions extends DemoUploadsOptions {
  /** Path of the built `<async-file-input>` bundle (see `client/build.ts`), served to the form pages. */
  componentScript: string;
}

export interface DemoApp {
  app: Hono;
  uploads: AsyncUploads;
}

/**
 * The whole demo as a Hono app, with no network of its own: `main.ts` listens, tests call it in-process
 * or on a port of their choosing. Wiring shown here is what an integrator does: create the uploads,
 * register fields, mount the routes, commit on save.
 */
export function createDemoApp(options: DemoAppOptions): DemoApp {
  const uploads = createDemoUploads(options);
  const app = new Hono();

  app.use("*", async function securityHeaders(c, next) {
    await next();
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "same-origin");
    if (c.res.headers.get("content-type")?.startsWith("text/html")) c.header("X-Frame-Options", "DENY");
  });

  app.get(COMPONENT_SCRIPT_PATH, async (c) => {
    const script = await readFile(options.componentScript);
    return c.body(script, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache" });
  });

  app.route(UPLOADS_BASE, uploads.routes);

  app.route("/", documentRoutes({ db: options.db, uploads, sessionKey: sessionKey(options.secret) }));

  app.notFound((c) => c.html(notFoundPage(), 404));
  app.onError((error, c) => {
    if (error instanceof HTTPException && error.status === 403) return c.html(forbiddenPage(), 403);
    if (error instanceof HTTPException && error.status < 500) return c.html(requestRefusedPage(error.message || "Bad request."), error.status);
    console.error("[demo] unexpected error", error);
    return c.html(serverErrorPage(), 500);
  });
  return { app, uploads };
}
