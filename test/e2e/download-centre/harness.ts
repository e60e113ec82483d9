import { randomBytes } from "node:crypto";
import { serve, type ServerType } from "@hono/node-server";
import { sql } from "drizzle-orm";
import { Hono } from "hono";
import type { Browser, Page } from "playwright-core";
import { buildClient } from "../../../client/build";
import { createAsyncUploads, type AsyncUploads } from "../../../server/create-async-uploads";
import { ExportCriteriaError, type ExportWriteContext } from "../../../server/exports/types";
import { startBackend, type BackendName, type TestBackend } from "../../helpers/backends";
import { watchPageErrors } from "../../helpers/browser";
import { createTestDatabase } from "../../helpers/db";

export const PRINCIPAL = "centre-person";
export const EXPORT_ID = "rows.csv";
/** At most this many rows are served at once (200); more are queued (202). */
export const SERVE_NOW_ROWS = 5;

/**
 * How the test export behaves, by its criteria: `slow` waits `pauseMs` per row (progress is seen);
 * `wait` writes its header and waits for its signal (to be cancelled); `fail` throws while the server's
 * `failing` switch is on (to be retried after it is turned off).
 */
export interface Criteria {
  rows: number;
  mode: "slow" | "wait" | "fail";
  tag: string;
}

/** The CSV the export writes for `rows` rows: every test compares a download with it. */
export function expectedCsv(rows: number): string {
  let text = "n,square\n";
  for (let n = 1; n <= rows; n++) text += `${n},${n * n}\n`;
  return text;
}

function parseCriteria(input: unknown): Criteria {
  const value = (input ?? {}) as Record<string, unknown>;
  const rows = Number(value.rows);
  if (!Number.isSafeInteger(rows) || rows < 0 || rows > 10_000) throw new ExportCriteriaError("Rows must be a whole number from 0 to 10000.");
  const mode = value.mode ?? "slow";
  if (mode !== "slow" && mode !== "wait" && mode !== "fail") throw new ExportCriteriaError("Unknown mode.");
  return { rows, mode, tag: typeof value.tag === "string" ? value.tag : "" };
}

export interface CentreServer {
  url: string;
  uploads: AsyncUploads;
  backend: TestBackend;
  /** `fail` exports throw while this is on. */
  switches: { failing: boolean; pauseMs: number };
  /** Tags whose writer saw its signal abort. */
  aborted: Set<string>;
  /** A page with `body`, loading the centre's bundle (`centre`), the file input's, or both. */
  page(body: string, scripts?: { centre?: boolean; fileInput?: boolean }): string;
  close(): Promise<void>;
}

let bundles: ReturnType<typeof buildClient> | undefined;

/**
 * Our real server for the download centre: `createAsyncUploads` on a test database, the chosen real
 * storage and pg-boss (a schema of its own), the export `rows.csv`, the routes at `/async-uploads`,
 * and at `/no-live` the same routes with the events route answering 404 (a site that did not mount
 * it), the built bundles at `/client/…`, and test pages.
 */
export async function startCentreServer(name: BackendName): Promise<CentreServer> {
  bundles ??= buildClient({ write: false });
  const code = await bundles;
  const backend = await startBackend(name, { bucket: "centre-e2e" });
  const connection = await createTestDatabase();
  const bossSchema = `pgboss_centre_${randomBytes(5).toString("hex")}`;
  const uploads = createAsyncUploads({
    db: connection.db,
    secret: "centre-e2e-secret-centre-e2e-secret-0123456789",
    storage: backend.storage,
    // A page sent with the cookie `signed-out=1` has no principal (401 from the routes).
    getPrincipal: (c) => (c.req.header("cookie")?.includes("signed-out=1") ? null : PRINCIPAL),
    processing: { schema: bossSchema, pollingIntervalSeconds: 0.5 },
    exports: { pollingIntervalSeconds: 0.5 },
  });
  const switches = { failing: true, pauseMs: 40 };
  const aborted = new Set<string>();
  uploads.exports.register(EXPORT_ID, {
    criteria: parseCriteria,
    filename: (criteria: Criteria) => `rows-${criteria.tag || criteria.rows}.csv`,
    contentType: "text/csv",
    delay: (criteria: Criteria) => criteria.rows > SERVE_NOW_ROWS || criteria.mode !== "slow",
    retryLimit: 0,
    write: async ({ criteria, output, progress, signal }: ExportWriteContext<Criteria>) => {
      await output.write("n,square\n");
      if (criteria.mode === "fail" && switches.failing) throw new Error("secret detail that must not be shown");
      if (criteria.mode === "wait") {
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
        aborted.add(criteria.tag);
        throw signal.reason;
      }
      for (let n = 1; n <= criteria.rows; n++) {
        signal.throwIfAborted();
        await output.write(`${n},${n * n}\n`);
        progress(n, criteria.rows);
        if (criteria.rows > SERVE_NOW_ROWS) await new Promise((resolve) => setTimeout(resolve, switches.pauseMs));
      }
    },
  });
  await uploads.start();

  const pages = new Map<string, string>();
  const app = new Hono();
  app.route("/async-uploads", uploads.routes);
  app.get("/no-live/events", (c) => c.json({ error: { code: "not_found", message: "Not mounted." } }, 404));
  app.route("/no-live", uploads.routes);
  // The bundles and the chunks the file input loads when needed (client/build.ts's chunks/).
  app.get("/client/*", (c) => {
    const file = code[c.req.path.slice("/client/".length)];
    return file ? c.body(file as Uint8Array<ArrayBuffer>, 200, { "Content-Type": "text/javascript" }) : c.notFound();
  });
  app.get("/page/:id", (c) => c.html(pages.get(c.req.param("id")) ?? "missing", pages.has(c.req.param("id")) ? 200 : 404));
  const server = await listen(app);
  return {
    url: server.url,
    uploads,
    backend,
    switches,
    aborted,
    page(body, scripts = { centre: true }) {
      const id = String(pages.size + 1);
      const tags = [
        scripts.centre ? `<script type="module" src="/client/async-download-centre.js"></script>` : "",
        scripts.fileInput ? `<script type="module" src="/client/async-file-input.js"></script>` : "",
      ].join("");
      pages.set(
        id,
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>download centre test</title>
<style>:root{font-family:system-ui,sans-serif}body{margin:2rem}header{display:flex;justify-content:space-between}</style>${tags}</head>
<body>${body}</body></html>`,
      );
      return `${server.url}/page/${id}`;
    },
    async close() {
      await uploads.close();
      await server.close();
      if (process.env.DATABASE_URL) await connection.db.execute(sql.raw(`drop schema if exists "${bossSchema}" cascade`)).catch(() => {});
      await connection.close();
      await backend.close();
    },
  };
}

/** The page of the centre in a header and a form with the export button. */
export function centrePage(server: CentreServer, options: { endpoint?: string; rows?: number; mode?: Criteria["mode"]; tag?: string } = {}): string {
  const endpoint = options.endpoint ?? "/async-uploads";
  return server.page(`<header><span>App</span><async-download-centre endpoint="${endpoint}" poll-seconds="0.5"></async-download-centre></header>
<main><h1>Rows</h1><form id="criteria">
<label>Rows <input name="rows" value="${options.rows ?? 40}"></label>
<input type="hidden" name="mode" value="${options.mode ?? "slow"}"><input type="hidden" name="tag" value="${options.tag ?? ""}">
<async-export-button export-id="${EXPORT_ID}" endpoint="${endpoint}">Export rows as CSV</async-export-button>
</form></main>`);
}

/** Opens `url` in a fresh context (downloads accepted) once the centre is defined. */
export async function openCentre(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const errors = watchPageErrors(page);
  await page.goto(url);
  await page.waitForFunction(() => customElements.get("async-download-centre") !== undefined);
  return { page, errors };
}

async function listen(app: Hono): Promise<{ url: string; close(): Promise<void> }> {
  const server: ServerType = await new Promise((resolve) => {
    const started = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(started));
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the test server has no port");
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        if ("closeAllConnections" in server) server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
