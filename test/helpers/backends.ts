import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { randomUUID } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  paginateListObjectsV2,
  PutBucketCorsCommand,
  PutObjectCommand,
  S3Client,
  type CORSRule,
} from "@aws-sdk/client-s3";
import { BlobServiceClient, StorageSharedKeyCredential, type ContainerClient } from "@azure/storage-blob";
import { azureStorage } from "../../server/storage/azure";
import { filesystemStorage } from "../../server/storage/filesystem";
import { s3Storage } from "../../server/storage/s3";
import type { StorageDriver } from "../../server/storage/types";
import { inject } from "vitest";
import { startAzurite, type AzuriteInstance } from "./emulators";
import { listFiles } from "./files";
import { startOutageProxy } from "./outage-proxy";

/**
 * One real storage for a test, by name: the filesystem driver on a temp dir, or the S3 and Azure
 * drivers on Ceph's RADOS Gateway and Azurite, each with a way to look at and write to the service
 * around the app, and to take it down. Every suite that runs against storage starts its backend here.
 */

export const BACKENDS = ["filesystem", "s3", "azure"] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendOptions {
  /** The bucket (S3) or container (Azure). @default "async-uploads" */
  bucket?: string;
  /** S3: presigned POST (the driver's default) or PUT. */
  s3UploadMethod?: "POST" | "PUT";
  /** S3: the smallest part the driver plans. RGW enforces S3's 5 MiB (only s3rver would take less). */
  minPartSize?: number;
  /** How many times the S3 and Azure clients try one request; 1 makes an outage fail at once. @default 3 */
  attempts?: number;
  /**
   * The service comes back from `takeDown()` with its data (Azurite persists to disk), and the clients
   * open a connection per request: a socket kept alive across a restart only fails.
   */
  restartable?: boolean;
}

export interface TestBackend {
  name: BackendName;
  storage: StorageDriver;
  /** Every object the service holds, as sorted keys. */
  list(): Promise<string[]>;
  /** Writes bytes straight to the service, around the app (seeding, or what a misbehaving client of a lax backend could do). */
  put(key: string, bytes: Uint8Array, contentType?: string): Promise<void>;
  /**
   * S3: cuts this backend's proxy to the shared RGW (every connection closed, new ones refused). Azure:
   * stops the emulator for real. The filesystem: every
   * `stat`, `delete` and `deleteMany` fails like a dead disk (tests run as root here, so permissions cannot).
   */
  takeDown(): Promise<void>;
  /** Undoes `takeDown()`: the same service on the same address (Azurite keeps its blobs only if `restartable`). */
  bringBack(): Promise<void>;
  readonly up: boolean;
  close(): Promise<void>;
  /** The filesystem: the storage root, and the directory above it, which must never receive a file. */
  root?: string;
  outside?: string;
  /** S3: where the bucket is, and a client of its own. */
  s3?: S3Service;
  s3Client?: S3Client;
  /** Azure: the emulator and a client of the container. */
  azurite?: AzuriteInstance;
  container?: ContainerClient;
}

/** Starts the backend `name`; `close()` leaves no process or file behind. */
export function startBackend(name: BackendName, options: BackendOptions = {}): Promise<TestBackend> {
  if (name === "s3") return startS3Backend(options);
  if (name === "azure") return startAzureBackend(options);
  return startFilesystemBackend();
}

/** Where an S3 backend's bucket lives (the proxy to RGW), as the SDK and the demo's settings need it. */
export interface S3Service {
  endpoint: string;
  region: string;
  bucket: string;
  forcePathStyle: true;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/** CORS open to every origin, as s3rver's S3_CORS (test/helpers/emulators.ts): browsers upload straight to the bucket. */
const OPEN_CORS: CORSRule = {
  AllowedOrigins: ["*"],
  AllowedMethods: ["GET", "PUT", "POST", "HEAD"],
  AllowedHeaders: ["*"],
  ExposeHeaders: ["ETag"],
  MaxAgeSeconds: 3600,
};

/**
 * S3 on the run's Ceph RADOS Gateway (test/helpers/rgw.ts), which checks signatures, POST policies and
 * S3's 5 MiB minimum part size, in a fresh bucket that `close()` empties and deletes. The gateway is
 * shared by every file of the run, so this backend reaches it through a TCP proxy of its own
 * (test/helpers/outage-proxy.ts): `takeDown()` cuts the proxy, a real outage for this file only, and
 * the data is still there after `bringBack()`. (s3rver, which checks nothing, is no longer needed here.)
 */
async function startS3Backend(options: BackendOptions): Promise<TestBackend> {
  const rgw = inject("rgw");
  if (!rgw) {
    throw new Error(
      'no RGW in this run: test/helpers/rgw-global-setup.ts starts it only when a selected test file names "s3" or BACKENDS',
    );
  }
  const { attempts = 3, s3UploadMethod, minPartSize, restartable = false } = options;
  const gateway = new URL(rgw.endpoint);
  const proxy = await startOutageProxy({ host: gateway.hostname, port: Number(gateway.port) });
  // Unique per call: test files run side by side on the one gateway.
  const bucket = `${options.bucket ?? "async-uploads"}-${randomUUID().slice(0, 8)}`;
  const endpoint = `http://127.0.0.1:${proxy.port}`;
  const s3: S3Service = { endpoint, region: rgw.region, bucket, forcePathStyle: true, credentials: rgw.credentials };
  const client = s3ClientOf(s3, attempts, restartable);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    await client.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: [OPEN_CORS] } }));
  } catch (error) {
    client.destroy();
    await proxy.close();
    throw error;
  }
  return {
    ...s3Clients(s3, client, s3UploadMethod, minPartSize),
    takeDown: proxy.takeDown,
    bringBack: proxy.bringBack,
    get up() {
      return proxy.up;
    },
    async close() {
      await proxy.bringBack();
      try {
        await emptyAndDeleteBucket(client, bucket);
      } finally {
        client.destroy();
        await proxy.close();
      }
    },
  };
}

function s3ClientOf(s3: S3Service, attempts: number, restartable: boolean): S3Client {
  return new S3Client({
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: s3.credentials,
    maxAttempts: attempts,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    ...(restartable ? { requestHandler: { httpAgent: new Agent({ keepAlive: false }) } } : {}),
  });
}

/** The S3 backend's driver on the bucket, and listing and writing around it. */
function s3Clients(s3: S3Service, client: S3Client, uploadMethod: "POST" | "PUT" | undefined, minPartSize: number | undefined) {
  return {
    name: "s3" as const,
    s3,
    s3Client: client,
    storage: s3Storage({ bucket: s3.bucket, client, uploadMethod, minPartSize }),
    async list() {
      const keys: string[] = [];
      for await (const page of paginateListObjectsV2({ client }, { Bucket: s3.bucket })) {
        keys.push(...(page.Contents ?? []).map((object) => object.Key!));
      }
      return keys.sort();
    },
    async put(key: string, bytes: Uint8Array, contentType?: string) {
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: bytes, ContentType: contentType }));
    },
  };
}

/** Aborts the bucket's unfinished multipart uploads, deletes its objects, then the bucket. */
async function emptyAndDeleteBucket(client: S3Client, bucket: string): Promise<void> {
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const { Key, UploadId } of uploads.Uploads ?? []) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId }));
  }
  for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket })) {
    await Promise.all((page.Contents ?? []).map(({ Key }) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key }))));
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

async function startAzureBackend({ bucket, attempts = 3, restartable = false }: BackendOptions): Promise<TestBackend> {
  const azurite = await startAzurite({ container: bucket, persist: restartable });
  const credential = new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey);
  const service = new BlobServiceClient(azurite.blobEndpoint, credential, {
    retryOptions: { maxTries: attempts, retryDelayInMs: 20, maxRetryDelayInMs: 50 },
    ...(restartable ? { keepAliveOptions: { enable: false } } : {}),
  });
  const container = service.getContainerClient(azurite.container);
  return {
    name: "azure",
    azurite,
    container,
    storage: azureStorage({ containerClient: container, credential }),
    async list() {
      const keys: string[] = [];
      for await (const blob of container.listBlobsFlat()) keys.push(blob.name);
      return keys.sort();
    },
    async put(key, bytes, contentType) {
      await container.getBlockBlobClient(key).uploadData(bytes, contentType ? { blobHTTPHeaders: { blobContentType: contentType } } : {});
    },
    takeDown: azurite.pause,
    bringBack: azurite.resume,
    get up() {
      return azurite.running;
    },
    close: azurite.stop,
  };
}

async function startFilesystemBackend(): Promise<TestBackend> {
  const outside = await mkdtemp(join(tmpdir(), "async-uploads-backend-"));
  const root = join(outside, "store");
  await mkdir(root);
  const disk = filesystemStorage({ root });
  let up = true;
  const dead = (operation: string) => new Error(`[filesystem] ${operation} failed: EIO: i/o error (injected)`);
  // A prototype chain keeps the driver's extras (write, read, multipart) for the app's fs/ routes.
  // Every call that cleanup makes to storage fails while down: a call left unwrapped here (as
  // deleteMany once was) would reach the disk through the prototype and hide the outage from tests.
  const storage: StorageDriver = Object.assign(Object.create(disk) as StorageDriver, {
    stat: (key: string) => (up ? disk.stat(key) : Promise.reject(dead("stat"))),
    delete: (key: string) => (up ? disk.delete(key) : Promise.reject(dead("delete"))),
    ...(disk.deleteMany && {
      deleteMany: (keys: readonly string[]) => (up ? disk.deleteMany!(keys) : Promise.reject(dead("deleteMany"))),
    }),
  });
  return {
    name: "filesystem",
    root,
    outside,
    storage,
    list: async () => (await listFiles(root)).map((path) => relative(root, path).split("\\").join("/")).sort(),
    put: (key, bytes) => disk.write(key, [bytes], { size: bytes.length }),
    takeDown: async () => void (up = false),
    bringBack: async () => void (up = true),
    get up() {
      return up;
    },
    close: () => rm(outside, { recursive: true, force: true }),
  };
}
