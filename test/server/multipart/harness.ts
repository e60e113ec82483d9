import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command, ListPartsCommand, S3Client } from "@aws-sdk/client-s3";
import { BlobServiceClient } from "@azure/storage-blob";
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
import { GiB, KiB, MiB, type FieldOptions } from "../../../server/registry";
import { azureStorage } from "../../../server/storage/azure";
import { filesystemStorage } from "../../../server/storage/filesystem";
import { s3Storage } from "../../../server/storage/s3";
import type { StorageDriver } from "../../../server/storage/types";
import { createTestDatabase } from "../../helpers/db";
import { startAzurite, startS3rver } from "../../helpers/emulators";
import { TEST_SECRET } from "../../helpers/uploads";

export const BACKENDS = ["filesystem", "s3", "azure"] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Fields of the tests: small parts for quick cases, S3-sized parts for the large ones. */
export const FIELDS = {
  small: { id: "docs.small", options: { maxSize: 64 * MiB, multipartThreshold: 512 * KiB, partSize: 256 * KiB } },
  large: { id: "docs.large", options: { maxSize: GiB, multipartThreshold: 64 * MiB, partSize: 8 * MiB } },
} satisfies Record<string, { id: string; options: FieldOptions }>;

/** What a storage holds under the temp prefix, staged parts included, for "nothing left behind". */
export type Leftovers = () => Promise<string[]>;

export interface Backend {
  name: BackendName;
  storage: StorageDriver;
  leftovers: Leftovers;
  /** Told of every chunked upload started, so that `leftovers` can find incomplete ones. */
  started(key: string, uploadId: string): void;
  close(): Promise<void>;
}

export async function startBackend(name: BackendName): Promise<Backend> {
  if (name === "s3") {
    const s3 = await startS3rver({ bucket: "multipart" });
    // s3rver does not enforce S3's 5 MiB minimum part size, so tests may use small parts.
    const client = new S3Client({
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: s3.credentials,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    const uploads: Array<{ key: string; uploadId: string }> = [];
    return {
      name,
      storage: s3Storage({ bucket: s3.bucket, client, minPartSize: 1 }),
      // Objects, and incomplete uploads: s3rver has no ListMultipartUploads (501), so each upload
      // started is asked for its parts (ListParts answers NoSuchUpload once it is completed or aborted).
      leftovers: async () => {
        const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
        const found = (listed.Contents ?? []).map((object) => object.Key ?? "");
        for (const { key, uploadId } of uploads) {
          const parts = await client.send(new ListPartsCommand({ Bucket: s3.bucket, Key: key, UploadId: uploadId })).catch((error: Error) => {
            if (error.name === "NoSuchUpload") return null;
            throw error;
          });
          if (parts) found.push(`incomplete upload of ${key} (${parts.Parts?.length ?? 0} parts)`);
        }
        return found;
      },
      started: (key, uploadId) => void uploads.push({ key, uploadId }),
      close: async () => {
        client.destroy();
        await s3.stop();
      },
    };
  }
  if (name === "azure") {
    const azurite = await startAzurite({ container: "multipart" });
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(azurite.container);
    return {
      name,
      storage: azureStorage({ connectionString: azurite.connectionString, container: azurite.container }),
      // Blobs with only uncommitted (staged) blocks are listed too.
      leftovers: async () => {
        const names: string[] = [];
        for await (const blob of container.listBlobsFlat({ includeUncommitedBlobs: true })) names.push(blob.name);
        return names;
      },
      started: () => {},
      close: azurite.stop,
    };
  }
  const root = await mkdtemp(join(tmpdir(), "multipart-test-"));
  return {
    name,
    storage: filesystemStorage({ root }),
    leftovers: async () => (await readdir(root, { recursive: true })).map(String),
    started: () => {},
    close: () => rm(root, { recursive: true, force: true }),
  };
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
  for (const field of Object.values(FIELDS)) uploads.registry.register(field.id, field.options);
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
