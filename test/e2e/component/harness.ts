import { PutBucketCorsCommand } from "@aws-sdk/client-s3";
import { BlobServiceClient } from "@azure/storage-blob";
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import type { Browser, Page } from "playwright-core";
import { buildClient } from "../../../client/build";
import { createAsyncUploads, type AsyncUploads, type AsyncUploadsOptions } from "../../../server/create-async-uploads";
import { KiB } from "../../../server/registry";
import { startBackend, type TestBackend } from "../../helpers/backends";
import { createTestDatabase } from "../../helpers/db";
import { watchPageErrors } from "../../helpers/browser";

/** `s3` uploads with a presigned POST (the driver's default), `s3-put` with a presigned PUT. */
export type Backend = "filesystem" | "s3" | "s3-put" | "azure";

/** Fields the test pages use. */
export const FIELDS = {
  /** One text or image file up to 256 KiB. */
  single: "e2e.file",
  /** Up to 4 such files. */
  multiple: "e2e.files",
} as const;
export const MAX_SIZE = 256 * KiB;
export const ACCEPT = "image/*, text/plain, .txt";
export const PRINCIPAL = "e2e-person";

/**
 * Our real server for the component: `createAsyncUploads` on a test database and the chosen real
 * storage, the routes at `/async-uploads`, the built component at `/client/async-file-input.js`,
 * test pages, and `POST /submit`, which commits what the form sent like an app would.
 */
export interface ComponentServer {
  backend: Backend;
  url: string;
  uploads: AsyncUploads;
  /** Shifts the server's clock (upload URLs issued now expire `-offsetMs` earlier). */
  clock: { offsetMs: number };
  /** Form bodies `POST /submit` received, in order. */
  submissions: Array<Record<string, string[]>>;
  /** Serves `body` inside a page with the component loaded; returns its URL. */
  page(body: string): string;
  close(): Promise<void>;
}

let bundle: Promise<Record<string, Uint8Array>> | undefined;

/** `overrides`: more `createAsyncUploads` options (processing tests give pg-boss a schema of their own). */
export async function startComponentServer(backend: Backend, overrides: Partial<AsyncUploadsOptions> = {}): Promise<ComponentServer> {
  bundle ??= buildClient({ write: false });
  const files = await bundle;
  const storage = await startStorage(backend);
  const connection = await createTestDatabase();
  const clock = { offsetMs: 0 };
  const uploads = createAsyncUploads({
    db: connection.db,
    secret: "component-e2e-secret-component-e2e-secret-0123",
    storage: storage.storage,
    getPrincipal: () => PRINCIPAL,
    now: () => new Date(Date.now() + clock.offsetMs),
    ...overrides,
  });
  const accept = ACCEPT.split(", ");
  uploads.registry.register(FIELDS.single, { maxSize: MAX_SIZE, accept });
  uploads.registry.register(FIELDS.multiple, { maxSize: MAX_SIZE, accept, multiple: true, maxFiles: 7 });

  const pages = new Map<string, string>();
  const submissions: ComponentServer["submissions"] = [];
  const app = new Hono();
  app.route("/async-uploads", uploads.routes);
  // The element's file and the chunks it loads when needed (`chunks/…`).
  app.get("/client/*", (c) => {
    const code = files[c.req.path.slice("/client/".length)];
    return code ? c.body(code as Uint8Array<ArrayBuffer>, 200, { "Content-Type": "text/javascript" }) : c.notFound();
  });
  app.get("/page/:id", (c) => c.html(pages.get(c.req.param("id")) ?? "missing", pages.has(c.req.param("id")) ? 200 : 404));
  app.post("/submit", async (c) => {
    const form = await c.req.formData();
    const entries: Record<string, string[]> = {};
    for (const [name, value] of form) (entries[name] ??= []).push(String(value));
    submissions.push(entries);
    const committed: Record<string, string[]> = {};
    for (const [field, fieldId] of [["file", FIELDS.single], ["files", FIELDS.multiple]] as const) {
      if (!entries[field]) continue;
      const result = await uploads.commit({ fieldId, value: entries[field], principal: PRINCIPAL, instanceId: "record-1" });
      committed[field] = result.keys;
    }
    return c.html(`<!doctype html><title>Saved</title><pre id="saved">${JSON.stringify(committed)}</pre>`);
  });

  const server = await listen(app);
  await storage.allowOrigin(server.url);
  return {
    backend,
    url: server.url,
    uploads,
    clock,
    submissions,
    page(body) {
      const id = String(pages.size + 1);
      pages.set(id, pageHtml(body));
      return `${server.url}/page/${id}`;
    },
    async close() {
      await server.close();
      await connection.close();
      await storage.close();
    },
  };
}

function pageHtml(body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>async-file-input test</title>
<style>:root{color-scheme:light dark;font-family:system-ui,sans-serif}body{margin:2rem;max-width:40rem}
label{display:block;font-weight:600;margin-bottom:.5rem}</style>
<script type="module" src="/client/async-file-input.js"></script></head>
<body><main><h1>Test form</h1>${body}</main></body></html>`;
}

/**
 * The CORS rules the README documents, applied as written (only the page's origin allowed), in place
 * of the emulators' allow-everything defaults, so the suite proves that they are enough.
 */
export const S3_CORS_RULE = {
  AllowedOrigins: ["https://app.example.com"],
  AllowedMethods: ["PUT", "POST"],
  AllowedHeaders: ["content-type"],
  ExposeHeaders: ["ETag"],
  MaxAgeSeconds: 3600,
};
export const AZURE_CORS_RULE = {
  allowedOrigins: "https://app.example.com",
  allowedMethods: "PUT",
  allowedHeaders: "content-type,x-ms-blob-type",
  exposedHeaders: "",
  maxAgeInSeconds: 3600,
};

/**
 * A backend for `backend`, with a way to replace the emulator's allow-everything CORS by the rules
 * above, open to the test server's origin only.
 */
async function startStorage(backend: Backend): Promise<TestBackend & { allowOrigin(origin: string): Promise<void> }> {
  const name = backend === "s3-put" ? "s3" : backend;
  const storage = await startBackend(name, { bucket: "component-e2e", s3UploadMethod: backend === "s3-put" ? "PUT" : "POST" });
  const { s3, s3Client, azurite } = storage;
  return Object.assign(storage, {
    async allowOrigin(origin: string) {
      if (s3 && s3Client) {
        const rule = { ...S3_CORS_RULE, AllowedOrigins: [origin] };
        await s3Client.send(new PutBucketCorsCommand({ Bucket: s3.bucket, CORSConfiguration: { CORSRules: [rule] } }));
      }
      if (azurite) {
        const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
        await service.setProperties({ cors: [{ ...AZURE_CORS_RULE, allowedOrigins: origin }] });
      }
    },
  });
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

/** A page of a fresh browser context, with its errors collected. */
export async function openPage(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchPageErrors(page);
  await page.goto(url);
  await page.waitForFunction(() => customElements.get("async-file-input") !== undefined);
  return { page, errors };
}
