import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AsyncUploads } from "async-uploads/server";
import { createDemoUploads, type DemoUploadsOptions } from "./fields";
import { UPLOADS_BASE, forbiddenPage, notFoundPage, requestRefusedPage, serverErrorPage } from "./pages/documents";
import { CENTRE_SCRIPT_PATH, COMPONENT_SCRIPT_PATH } from "./pages/layout";
import { documentRoutes } from "./routes";
import { sessionKey } from "./session";

export interface DemoAppOptions extends DemoUploadsOptions {
  /** Path of the built `<async-file-input>` bundle (see `client/build.ts`), served to the form pages. */
  componentScript: string;
  /** Path of the built download centre bundle, served to every page. @default `async-download-centre.js` beside `componentScript` */
  centreScript?: string;
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

  const centreScript = options.centreScript ?? join(dirname(options.componentScript), "async-download-centre.js");
  for (const [path, file] of [[COMPONENT_SCRIPT_PATH, options.componentScript], [CENTRE_SCRIPT_PATH, centreScript]] as const) {
    app.get(path, async (c) => {
      const script = await readFile(file);
      return c.body(script, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache" });
    });
  }

  // What the element loads only when needed (the upload engine with the first file, …): chunks/ beside it.
  app.get(`${dirname(COMPONENT_SCRIPT_PATH)}/chunks/:file{[\\w-]+\\.js}`, async (c) => {
    const script = await readFile(join(dirname(options.componentScript), "chunks", c.req.param("file"))).catch(() => null);
    if (!script) return c.notFound();
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
