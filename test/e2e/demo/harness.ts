import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import type { AsyncUploads } from "../../../server/create-async-uploads";
import type { Database } from "../../../server/db/database";
import { createDemoApp } from "../../../demo/app";
import { createDemoServer } from "../../../demo/http-server";
import { migrateDemo } from "../../../demo/migrate";
import { buildClient } from "../../../client/build";
import type { StorageDriver } from "../../../server/storage/types";
import type { UploadUrlResponse } from "../../../shared/schemas";
import { BACKENDS, startBackend, type BackendName as Backend } from "../../helpers/backends";
import { createTestDatabase } from "../../helpers/db";

export { BACKENDS, type Backend };

export const DEMO_TEST_SECRET = "demo-test-secret-demo-test-secret-0123456789";

/** The demo app listening on a free port, with a fresh database and the chosen real storage. */
export interface DemoServer {
  backend: Backend;
  url: string;
  db: Database;
  uploads: AsyncUploads;
  storage: StorageDriver;
  /** Every object key in the storage, sorted (to check what was stored, moved or deleted). */
  listKeys(): Promise<string[]>;
  close(): Promise<void>;
}

/** Starts the demo app for `backend` on 127.0.0.1 and a free port. */
/** `jobs`: run the job worker (`uploads.start()`, as `npm start` does) without the scan, for queued exports. */
export async function startDemo(backend: Backend, options: { withComponent?: boolean; scanSeconds?: number; jobs?: boolean } = {}): Promise<DemoServer> {
  const database = await createTestDatabase();
  await migrateDemo(database.db, database.schema ? { migrationsSchema: database.schema } : {});
  const storage = await startBackend(backend, { bucket: "demo-e2e" });
  // Each test file builds its own bundle: parallel files never read one another's half-written build.
  const bundleDir = await mkdtemp(join(tmpdir(), "demo-e2e-client-"));
  if (options.withComponent) await buildClient({ outdir: bundleDir });
  const componentScript = join(bundleDir, "async-file-input.js");
  const { scanSeconds } = options;
  const jobs = Boolean(scanSeconds || options.jobs);
  // pg-boss's tables in a schema of this server's own: another file's worker must not take its jobs.
  const bossSchema = `pgboss_demo_${randomBytes(5).toString("hex")}`;
  const overrides = jobs ? { processing: { schema: bossSchema, pollingIntervalSeconds: 0.5 } } : {};
  const { app, uploads } = createDemoApp({ db: database.db, storage: storage.storage, secret: DEMO_TEST_SECRET, componentScript, scanSeconds, overrides });
  if (jobs) await uploads.start(); // the attachment's stand-in virus scan and queued exports run as jobs, as under npm start
  // The server `npm start` runs (demo/main.ts), on a free port.
  const server = createDemoServer(app.fetch);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the demo server has no port");
  return {
    backend,
    url: `http://127.0.0.1:${address.port}`,
    db: database.db,
    uploads,
    storage: storage.storage,
    listKeys: storage.list,
    async close() {
      await uploads.close();
      if (jobs && database.url) await database.db.execute(sql.raw(`drop schema if exists "${bossSchema}" cascade`));
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await storage.close();
      await database.close();
      await rm(bundleDir, { recursive: true, force: true });
    },
  };
}

/**
 * A browser-less visitor with its own session cookie, for the bad-input cases: it asks for upload URLs,
 * uploads bytes the way the component would (or would not), and posts the form like a browser does.
 */
export class Visitor {
  cookie = "";

  constructor(readonly server: DemoServer) {}

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set("cookie", this.cookie);
    if (init.method && init.method !== "GET") headers.set("origin", this.server.url);
    const response = await fetch(new URL(path, this.server.url), { ...init, headers, redirect: "manual" });
    const setCookie = response.headers.get("set-cookie");
    if (setCookie) this.cookie = setCookie.split(";")[0]!;
    return response;
  }

  /** Visits the home page once, which gives the visitor a session. */
  async start(): Promise<this> {
    const response = await this.fetch("/");
    if (response.status !== 200 || !this.cookie) throw new Error(`GET / answered ${response.status} without a session cookie`);
    return this;
  }

  async issue(body: { fieldId: string; filename: string; contentType: string; size: number; instanceId?: string }): Promise<UploadUrlResponse> {
    const response = await this.fetch("/async-uploads/upload-url", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (response.status !== 201) throw new Error(`upload-url answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as UploadUrlResponse;
  }

  /** Performs an issued upload with arbitrary bytes and type: the contract's PUT or multipart POST. */
  async upload(target: UploadUrlResponse, bytes: Uint8Array, contentType: string): Promise<Response> {
    const url = new URL(target.upload.url, this.server.url);
    const body = new Uint8Array(bytes);
    if (target.upload.method === "PUT") {
      return fetch(url, { method: "PUT", headers: { ...target.upload.headers, "Content-Type": contentType }, body });
    }
    const form = new FormData();
    for (const [name, value] of Object.entries(target.upload.fields ?? {})) form.append(name, name === "Content-Type" ? contentType : value);
    form.append("file", new Blob([body], { type: contentType }), "file");
    return fetch(url, { method: "POST", body: form });
  }

  /** Asks for a URL and uploads the bytes; returns the key the form would carry. */
  async uploadFile(fieldId: string, filename: string, contentType: string, bytes: Uint8Array, instanceId?: string): Promise<string> {
    const target = await this.issue({ fieldId, filename, contentType, size: bytes.byteLength, ...(instanceId ? { instanceId } : {}) });
    const response = await this.upload(target, bytes, contentType);
    if (!response.ok) throw new Error(`upload answered ${response.status}: ${await response.text()}`);
    return target.key;
  }

  /** Posts the document form (urlencoded, as a browser does). */
  postForm(path: string, fields: Record<string, string>): Promise<Response> {
    return this.fetch(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
  }
}

/** The message shown next to a form field (`<p class="error" id="{name}-error">`), or null. */
export function fieldError(page: string, name: string): string | null {
  const match = new RegExp(`<p class="error" id="${name}-error">([^<]*)</p>`).exec(page);
  return match?.[1] ?? null;
}

/** The value attribute of the `<async-file-input name="{name}">` on a form page, or "" when absent. */
export function componentValue(page: string, name: string): string {
  const element = new RegExp(`<async-file-input[^>]*\\sname="${name}"[^>]*>`).exec(page)?.[0] ?? "";
  return /\svalue="([^"]*)"/.exec(element)?.[1] ?? "";
}

export { gradientPng, PDF_BYTES, PNG_1x1 } from "../../helpers/sample-files";
