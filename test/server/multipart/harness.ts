import { createHash, randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ListPartsCommand } from "@aws-sdk/client-s3";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import type {
  CompleteMultipartResponse,
  ListPartsResponse,
  MultipartUploadUrlResponse,
  PartTarget,
  SignPartsResponse,
} from "../../../shared/multipart";
import { createAsyncUploads, type AsyncUploads } from "../../../server/create-async-uploads";
import { isNoSuchUpload } from "../../../server/storage/s3-multipart";
import { GiB, KiB, MiB, type FieldOptions } from "../../../server/registry";
import { startBackend as startTestBackend, type BackendName, type TestBackend } from "../../helpers/backends";
import { createTestDatabase } from "../../helpers/db";
import { TEST_SECRET } from "../../helpers/uploads";

export { BACKENDS, type BackendName } from "../../helpers/backends";

/**
 * Fields of the tests: small parts for quick cases, S3-sized parts for the large ones. On S3 (RGW, which
 * like S3 refuses to assemble parts under 5 MiB but the last) the small field's parts are 5 MiB too:
 * see `smallPartSize`.
 */
export const FIELDS = {
  small: { id: "docs.small", options: { maxSize: 64 * MiB, multipartThreshold: 512 * KiB, partSize: 256 * KiB } },
  large: { id: "docs.large", options: { maxSize: GiB, multipartThreshold: 64 * MiB, partSize: 8 * MiB } },
} satisfies Record<string, { id: string; options: FieldOptions }>;

/** The small field's part size on `name`: S3's minimum of 5 MiB on S3, 256 KiB elsewhere (quicker). */
export function smallPartSize(name: BackendName): number {
  return name === "s3" ? 5 * MiB : 256 * KiB;
}

/** A backend of test/helpers/backends.ts that can also tell what it holds, staged parts included. */
export interface Backend extends TestBackend {
  /** What the storage holds, staged parts and incomplete uploads included, for "nothing left behind". */
  leftovers(): Promise<string[]>;
  /** Told of every chunked upload started, so that `leftovers` can find incomplete ones. */
  started(key: string, uploadId: string): void;
}

export async function startBackend(name: BackendName): Promise<Backend> {
  // Filesystem and Azure take small parts; S3 (RGW) keeps its 5 MiB minimum.
  const backend = await startTestBackend(name, { bucket: "multipart", ...(name === "s3" ? {} : { minPartSize: 1 }) });
  const uploads: Array<{ key: string; uploadId: string }> = [];
  return Object.assign(backend, {
    leftovers: () => leftovers(backend, uploads),
    started: (key: string, uploadId: string) => void uploads.push({ key, uploadId }),
  });
}

async function leftovers(backend: TestBackend, uploads: ReadonlyArray<{ key: string; uploadId: string }>): Promise<string[]> {
  const { s3, s3Client: client, container, root } = backend;
  if (s3 && client) {
    // Objects, and incomplete uploads: each upload started is asked for its parts (ListParts answers
    // NoSuchUpload on S3, NoSuchKey on RGW, once it is completed or aborted).
    const found = await backend.list();
    for (const { key, uploadId } of uploads) {
      const parts = await client.send(new ListPartsCommand({ Bucket: s3.bucket, Key: key, UploadId: uploadId })).catch((error: Error) => {
        if (isNoSuchUpload(error)) return null;
        throw error;
      });
      if (parts) found.push(`incomplete upload of ${key} (${parts.Parts?.length ?? 0} parts)`);
    }
    return found;
  }
  if (container) {
    // Blobs with only uncommitted (staged) blocks are listed too.
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat({ includeUncommitedBlobs: true })) names.push(blob.name);
    return names;
  }
  // Directories too: an empty one left behind is a leftover.
  return (await readdir(root!, { recursive: true })).map(String);
}

export interface MultipartApp {
  uploads: AsyncUploads;
  backend: Backend;
  /** `http://127.0.0.1:port`; the routes are mounted at `/uploads`. */
  origin: string;
  /** JSON POST to a route as `as` (header `x-principal`). */
  post(path: string, body: unknown, as?: string): Promise<Response>;
  /** Starts a chunked upload and returns the plan (throws unless 201 with `multipart`). */
  start(fieldId: string, size: number, options?: { filename?: string; as?: string }): Promise<MultipartUploadUrlResponse>;
  sign(key: string, partNumbers: number[], as?: string): Promise<PartTarget[]>;
  list(key: string, as?: string): Promise<ListPartsResponse>;
  complete(key: string, parts: Array<{ partNumber: number; etag?: string }>, as?: string): Promise<Response>;
  /** PUTs a part body over real HTTP; `cutAfter` bytes sends that many of them, then drops the connection. */
  sendPart(target: PartTarget, body: Uint8Array, options?: { cutAfter?: number }): Promise<{ status: number; etag?: string } | "cut">;
  close(): Promise<void>;
}

/** A real `createAsyncUploads` on `backend`, served over HTTP (part uploads of the filesystem backend go through it). */
export async function startMultipartApp(backend: Backend, options: { now?: () => Date } = {}): Promise<MultipartApp> {
  const connection = await createTestDatabase();
  const uploads = createAsyncUploads({
    db: connection.db,
    secret: TEST_SECRET,
    storage: backend.storage,
    getPrincipal: (c) => c.req.header("x-principal") ?? null,
    log: () => {},
    ...options,
  });
  const part = smallPartSize(backend.name);
  uploads.registry.register(FIELDS.small.id, { ...FIELDS.small.options, partSize: part, multipartThreshold: 2 * part });
  uploads.registry.register(FIELDS.large.id, FIELDS.large.options);
  const app = new Hono().route("/uploads", uploads.routes);
  const server = await new Promise<Server>((resolve) => {
    const started = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(started as Server));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const post: MultipartApp["post"] = (path, body, as = "alice") =>
    fetch(`${origin}/uploads${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-principal": as },
      body: JSON.stringify(body),
    });
  const ok = async <T>(response: Response, status = 200): Promise<T> => {
    if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${await response.text()}`);
    return (await response.json()) as T;
  };

  return {
    uploads,
    backend,
    origin,
    post,
    async start(fieldId, size, { filename = "big.bin", as = "alice" } = {}) {
      const body = await ok<MultipartUploadUrlResponse>(
        await post("/upload-url", { fieldId, filename, contentType: "application/octet-stream", size, multipart: true }, as),
        201,
      );
      if (!body.multipart) throw new Error(`not a chunked upload: ${JSON.stringify(body)}`);
      backend.started(body.key, body.multipart.uploadId);
      return body;
    },
    async sign(key, partNumbers, as) {
      return (await ok<SignPartsResponse>(await post("/multipart/sign-parts", { key, partNumbers }, as))).parts;
    },
    async list(key, as) {
      return ok<ListPartsResponse>(await post("/multipart/list-parts", { key }, as));
    },
    complete: (key, parts, as) => post("/multipart/complete", { key, parts }, as),
    sendPart: (target, body, sendOptions) => sendPart(new URL(target.url, origin), target, body, sendOptions?.cutAfter),
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await connection.close();
    },
  };
}

function sendPart(
  url: URL,
  target: PartTarget,
  body: Uint8Array,
  cutAfter?: number,
): Promise<{ status: number; etag?: string } | "cut"> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: target.method, headers: { ...target.headers, "content-length": String(body.length) } });
    request.on("response", (response) => {
      response.resume();
      response.on("end", () => {
        const etag = response.headers.etag;
        resolve({ status: response.statusCode ?? 0, ...(etag ? { etag } : {}) });
      });
    });
    if (cutAfter === undefined) {
      request.on("error", reject);
      request.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
      return;
    }
    // The connection drops in the middle of the body, as on a train going into a tunnel.
    request.on("error", () => resolve("cut"));
    request.write(Buffer.from(body.buffer, body.byteOffset, cutAfter), () => {
      setTimeout(() => request.destroy(), 50);
    });
  });
}

/** Random bytes (nothing sniffable), and their SHA-256 for comparing after commit. */
export function randomContent(size: number): { bytes: Uint8Array; sha256: string } {
  const bytes = new Uint8Array(randomBytes(size));
  return { bytes, sha256: sha256(bytes) };
}

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
