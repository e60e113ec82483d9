import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import type { UploadUrlResponse } from "../../shared/schemas";
import { createAsyncUploads, type AsyncUploads, type AsyncUploadsOptions } from "../../server/create-async-uploads";
import { filesystemStorage } from "../../server/storage/filesystem";
import type { StorageDriver } from "../../server/storage/types";
import { createTestDatabase } from "./db";

export const TEST_SECRET = "test-secret-test-secret-test-secret-0123456789";

export interface TestUploads {
  uploads: AsyncUploads;
  storage: StorageDriver;
  root: string;
  db: AsyncUploads["db"];
  /** Sends a request to the routes as principal `as` (header `x-principal`). */
  request(path: string, init?: RequestInit & { as?: string | null }): Promise<Response>;
  /** Asks for an upload URL as `as` and returns the parsed 201 body (throws otherwise). */
  issue(body: Record<string, unknown>, as?: string): Promise<UploadUrlResponse>;
  /** Uploads bytes to an issued filesystem target through the routes. */
  put(target: UploadUrlResponse, bytes: Uint8Array<ArrayBuffer>, contentType?: string): Promise<Response>;
  close(): Promise<void>;
}

/**
 * A real `createAsyncUploads` on a test database and (by default) a filesystem storage in a temp dir.
 * The principal comes from the `x-principal` header so tests can act as several people.
 */
export async function createTestUploads(
  options: Partial<AsyncUploadsOptions> & { register?: (uploads: AsyncUploads) => void } = {},
): Promise<TestUploads> {
  const connection = await createTestDatabase();
  const root = await mkdtemp(join(tmpdir(), "async-uploads-test-"));
  const storage = options.storage ?? filesystemStorage({ root });
  const uploads = createAsyncUploads({
    db: connection.db,
    secret: TEST_SECRET,
    storage,
    getPrincipal: (c) => c.req.header("x-principal") ?? null,
    ...options,
  });
  options.register?.(uploads);
  const routes: Hono = uploads.routes;

  const request: TestUploads["request"] = (path, init = {}) => {
    const { as = "alice", ...rest } = init;
    const headers = new Headers(rest.headers);
    if (as !== null) headers.set("x-principal", as);
    return Promise.resolve(routes.request(`http://localhost${path}`, { ...rest, headers }));
  };

  return {
    uploads,
    storage,
    root,
    db: connection.db,
    request,
    async issue(body, as = "alice") {
      const response = await request("/upload-url", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        as,
      });
      if (response.status !== 201) throw new Error(`upload-url answered ${response.status}: ${await response.text()}`);
      return (await response.json()) as UploadUrlResponse;
    },
    put(target, bytes, contentType) {
      return request(target.upload.url, {
        method: "PUT",
        headers: { "content-type": contentType ?? target.upload.headers["Content-Type"] ?? "application/octet-stream" },
        body: bytes,
        as: null,
      });
    },
    async close() {
      await connection.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Kept here for the suites that import them with the harness; they live in sample-files.ts. */
export { PDF_BYTES, PNG_1x1 } from "./sample-files";
