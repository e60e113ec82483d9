import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { BlobServiceClient, StorageSharedKeyCredential, type ContainerClient } from "@azure/storage-blob";
import { azureStorage } from "../../server/storage/azure";
import { filesystemStorage } from "../../server/storage/filesystem";
import { s3Storage } from "../../server/storage/s3";
import type { StorageDriver } from "../../server/storage/types";
import { startAzurite, startS3rver, type AzuriteInstance, type S3rverInstance } from "./emulators";
import { listFiles } from "./files";

/**
 * One real storage for a test, by name: the filesystem driver on a temp dir, or the S3 and Azure
 * drivers on s3rver and Azurite, each with a way to look at and write to the service around the app,
 * and to take it down. Every suite that runs against storage starts its backend here.
 */

export const BACKENDS = ["filesystem", "s3", "azure"] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendOptions {
  /** The bucket (S3) or container (Azure). @default "async-uploads" */
  bucket?: string;
  /** S3: presigned POST (the driver's default) or PUT. */
  s3UploadMethod?: "POST" | "PUT";
  /** S3: the smallest part the driver plans; s3rver does not enforce S3's 5 MiB, so tests may use small parts. */
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
   * S3 and Azure: stops the emulator for real (every connection closed). The filesystem: every
   * `stat` and `delete` fails like a dead disk (tests run as root here, so permissions cannot).
   */
  takeDown(): Promise<void>;
  /** Undoes `takeDown()`: the same service on the same address (Azurite keeps its blobs only if `restartable`). */
  bringBack(): Promise<void>;
  readonly up: boolean;
  close(): Promise<void>;
  /** The filesystem: the storage root, and the directory above it, which must never receive a file. */
  root?: string;
  outside?: string;
  /** S3: the emulator and a client of its own. */
  s3?: S3rverInstance;
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

async function startS3Backend({ bucket, s3UploadMethod, minPartSize, attempts = 3, restartable = false }: BackendOptions): Promise<TestBackend> {
  const s3 = await startS3rver({ bucket });
  const client = new S3Client({
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: s3.credentials,
    maxAttempts: attempts,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    ...(restartable ? { requestHandler: { httpAgent: new Agent({ keepAlive: false }) } } : {}),
  });
  return {
    name: "s3",
    s3,
    s3Client: client,
    storage: s3Storage({ bucket: s3.bucket, client, uploadMethod: s3UploadMethod, minPartSize }),
    async list() {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
      return (listed.Contents ?? []).map((object) => object.Key!).sort();
    },
    async put(key, bytes, contentType) {
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: bytes, ContentType: contentType }));
    },
    takeDown: s3.pause,
    bringBack: s3.resume,
    get up() {
      return s3.running;
    },
    async close() {
      client.destroy();
      await s3.stop();
    },
  };
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
  const storage: StorageDriver = Object.assign(Object.create(disk) as StorageDriver, {
    stat: (key: string) => (up ? disk.stat(key) : Promise.reject(dead("stat"))),
    delete: (key: string) => (up ? disk.delete(key) : Promise.reject(dead("delete"))),
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
