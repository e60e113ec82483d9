/**
 * Child process: our routes (`createAsyncUploads`) on the bench's PostgreSQL schema and one storage
 * backend, served by @hono/node-server as an app would. Optionally serves the browser bench's pages
 * and bundles from a directory (same origin as the routes, as an app's pages would be).
 *
 * Environment: BENCH_BACKEND (filesystem | s3 | azure), BENCH_DB_URL, BENCH_DB_SCHEMA, BENCH_FS_ROOT,
 * BENCH_S3 (JSON: endpoint, region, bucket, credentials), BENCH_S3_UPLOAD_METHOD (POST, the default, or PUT), BENCH_AZURE (JSON: connectionString,
 * container), BENCH_STATIC_DIR.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { createAsyncUploads } from "../../server/create-async-uploads";
import { GiB } from "../../server/registry";
import type { StorageDriver } from "../../server/storage/types";
import { failStart, serveParent } from "../lib/child";
import { gcCounter } from "./gc-counter";
import { BENCH_FIELD, BENCH_FIELD_SINGLE, BENCH_SECRET } from "../lib/constants";
import { connectToSchema } from "../lib/database";

/**
 * Only the bench's own backend is loaded, as an app imports only its driver's subpath: the S3 and
 * Azure SDKs would otherwise sit in the heap of a filesystem run (~13 MB that every full GC marks, a
 * large share of its time in the fs-streaming profile).
 */
async function storageFromEnv(): Promise<StorageDriver> {
  const backend = process.env.BENCH_BACKEND;
  if (backend === "filesystem") {
    const { filesystemStorage } = await import("../../server/storage/filesystem");
    return filesystemStorage({ root: required("BENCH_FS_ROOT") });
  }
  if (backend === "s3") {
    const { s3Storage } = await import("../../server/storage/s3");
    const s3 = JSON.parse(required("BENCH_S3")) as { endpoint: string; region: string; bucket: string; credentials: { accessKeyId: string; secretAccessKey: string } };
    // BENCH_S3_UPLOAD_METHOD=PUT (or POST): that method for every file, instead of the driver's default
    // (a presigned POST under 8 MiB, a presigned PUT from 8 MiB).
    const method = process.env.BENCH_S3_UPLOAD_METHOD;
    const uploadMethod = method === "PUT" || method === "POST" ? method : undefined;
    return s3Storage({ bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials, uploadMethod });
  }
  if (backend === "azure") {
    const { azureStorage } = await import("../../server/storage/azure");
    const azure = JSON.parse(required("BENCH_AZURE")) as { connectionString: string; container: string };
    return azureStorage({ connectionString: azure.connectionString, container: azure.container });
  }
  throw new Error(`BENCH_BACKEND must be filesystem, s3 or azure, not ${backend}`);
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const CONTENT_TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css" };

try {
  const connection = await connectToSchema(required("BENCH_DB_URL"), required("BENCH_DB_SCHEMA"));
  const uploads = createAsyncUploads({
    db: connection.db,
    secret: BENCH_SECRET,
    storage: await storageFromEnv(),
    // The load generator sends one of many principals in a header; the browser pages send none.
    getPrincipal: (c) => c.req.header("x-principal") ?? "bench-browser",
    // 200 files from one browser page are more than the default 100 unsaved uploads per person.
    // The count query behind this limit still runs on every request.
    maxPendingUploadsPerPrincipal: 1_000_000,
    // Nor a bound on their bytes: a run leaves gigabytes unsaved, and without an overall bound the
    // count is taken under a per-principal lock, as before those bounds existed.
    maxPendingBytesPerPrincipal: Infinity,
    maxPendingBytes: Infinity,
  });
  uploads.registry.register(BENCH_FIELD, { maxSize: 4 * GiB, multiple: true, maxFiles: 1000 });
  uploads.registry.register(BENCH_FIELD_SINGLE, { maxSize: 4 * GiB, multiple: true, maxFiles: 1000, multipartThreshold: Infinity });

  const app = new Hono();
  app.route("/async-uploads", uploads.routes);
  const staticDir = process.env.BENCH_STATIC_DIR;
  if (staticDir) {
    const cache = new Map<string, Buffer>();
    app.get("/static/*", async (c) => {
      const relative = normalize(c.req.path.slice("/static/".length));
      if (relative.startsWith("..")) return c.notFound();
      const path = join(staticDir, relative);
      let body = cache.get(path);
      if (!body) {
        body = await readFile(path).catch(() => undefined);
        if (!body) return c.notFound();
        cache.set(path, body);
      }
      return c.body(new Uint8Array(body), 200, { "Content-Type": CONTENT_TYPES[extname(path)] ?? "application/octet-stream" });
    });
  }

  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(started));
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  serveParent({ url: `http://127.0.0.1:${address.port}`, pid: process.pid }, gcCounter(), async () => {
    server.close();
    await connection.close();
  });
} catch (error) {
  failStart(error);
}
