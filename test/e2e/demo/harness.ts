import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { deflateSync } from "node:zlib";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { BlobServiceClient } from "@azure/storage-blob";
import { serve, type ServerType } from "@hono/node-server";
import type { AsyncUploads } from "../../../server/create-async-uploads";
import type { Database } from "../../../server/db/database";
import { createDemoApp } from "../../../demo/app";
import { migrateDemo } from "../../../demo/migrate";
import { buildClient } from "../../../client/build";
import { azureStorage } from "../../../server/storage/azure";
import { filesystemStorage } from "../../../server/storage/filesystem";
import { s3Storage } from "../../../server/storage/s3";
import type { StorageDriver } from "../../../server/storage/types";
import type { UploadUrlResponse } from "../../../shared/schemas";
import { createTestDatabase } from "../../helpers/db";
import { startAzurite, startS3rver } from "../../helpers/emulators";

export type Backend = "filesystem" | "s3" | "azure";
export const BACKENDS: readonly Backend[] = ["filesystem", "s3", "azure"];

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

interface BackendStorage {
  storage: StorageDriver;
  listKeys(): Promise<string[]>;
  stop(): Promise<void>;
}

async function startStorage(backend: Backend): Promise<BackendStorage> {
  if (backend === "filesystem") {
    const root = await mkdtemp(join(tmpdir(), "demo-e2e-"));
    return {
      storage: filesystemStorage({ root }),
      async listKeys() {
        const entries = await readdir(root, { recursive: true, withFileTypes: true });
        return entries
          .filter((entry) => entry.isFile())
          .map((entry) => relative(root, join(entry.parentPath, entry.name)).split("\\").join("/"))
          .sort();
      },
      stop: () => rm(root, { recursive: true, force: true }),
    };
  }
  if (backend === "s3") {
    const s3 = await startS3rver({ bucket: "demo-e2e" });
    const settings = { region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials };
    const client = new S3Client({ ...settings, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" });
    return {
      storage: s3Storage({ bucket: s3.bucket, ...settings }),
      async listKeys() {
        const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
        return (listed.Contents ?? []).map((object) => object.Key ?? "").sort();
      },
      async stop() {
        client.destroy();
        await s3.stop();
      },
    };
  }
  const azurite = await startAzurite({ container: "demo-e2e" });
  const containerClient = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(azurite.container);
  return {
    storage: azureStorage({ connectionString: azurite.connectionString, container: azurite.container }),
    async listKeys() {
      const keys: string[] = [];
      for await (const blob of containerClient.listBlobsFlat()) keys.push(blob.name);
      return keys.sort();
    },
    stop: () => azurite.stop(),
  };
}

/** Starts the demo app for `backend` on 127.0.0.1 and a free port. */
export async function startDemo(backend: Backend, options: { withComponent?: boolean } = {}): Promise<DemoServer> {
  const database = await createTestDatabase();
  await migrateDemo(database.db, database.schema ? { migrationsSchema: database.schema } : {});
  const storage = await startStorage(backend);
  // Each test file builds its own bundle: parallel files never read one another's half-written build.
  const bundleDir = await mkdtemp(join(tmpdir(), "demo-e2e-client-"));
  if (options.withComponent) await buildClient({ outdir: bundleDir });
  const componentScript = join(bundleDir, "async-file-input.js");
  const { app, uploads } = createDemoApp({ db: database.db, storage: storage.storage, secret: DEMO_TEST_SECRET, componentScript });
  const server: ServerType = await new Promise((resolve) => {
    const started = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(started));
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the demo server has no port");
  return {
    backend,
    url: `http://127.0.0.1:${address.port}`,
    db: database.db,
    uploads,
    storage: storage.storage,
    listKeys: storage.listKeys,
    async close() {
      await new Promise<void>((resolve) => {
        if ("closeAllConnections" in server) server.closeAllConnections();
        server.close(() => resolve());
      });
      await storage.stop();
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

/** A tiny valid PNG (1×1). */
export const PNG_1x1 = Uint8Array.from(
  Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64"),
);
export const PDF_BYTES = new TextEncoder().encode("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n");

/** A small real PNG with a colour gradient (for thumbnails that look like something in screenshots). */
export function gradientPng(width: number, height: number): Buffer {
  const rows: number[] = [];
  for (let y = 0; y < height; y++) {
    rows.push(0); // filter: none
    for (let x = 0; x < width; x++) rows.push(40 + Math.round((180 * x) / width), 90 + Math.round((120 * y) / height), 200);
  }
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(Buffer.from(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
