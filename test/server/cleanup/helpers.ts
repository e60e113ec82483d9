import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { eq, inArray } from "drizzle-orm";
import { createAsyncUploads, type AsyncUploads } from "../../../server/create-async-uploads";
import type { Database } from "../../../server/db/database";
import { asyncTempFile, type TempFileStatus } from "../../../server/db/schema";
import { makeTempKey } from "../../../server/keys";
import { MiB } from "../../../server/registry";
import { azureStorage } from "../../../server/storage/azure";
import { filesystemStorage } from "../../../server/storage/filesystem";
import { s3Storage } from "../../../server/storage/s3";
import type { StorageDriver } from "../../../server/storage/types";
import { createTestDatabase } from "../../helpers/db";
import { startAzurite, startS3rver } from "../../helpers/emulators";
import { TEST_SECRET } from "../../helpers/uploads";

export const HOUR = 60 * 60 * 1000;
export const BACKENDS = ["filesystem", "s3", "azure"] as const;
export type BackendName = (typeof BACKENDS)[number];
export const FIELD = "docs.file";
export const OTHER_FIELD = "avatars.image";
export const onPostgres = Boolean(process.env.DATABASE_URL);

/** A real storage backend, with a way to write objects directly and to take the service down. */
export interface Backend {
  name: BackendName;
  storage: StorageDriver;
  /** The filesystem backend's root directory. */
  root?: string;
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** Stops the emulator (S3, Azure) or, for the local disk, makes every call fail like a dead disk. */
  takeDown(): Promise<void>;
  close(): Promise<void>;
}

export async function startBackend(name: BackendName): Promise<Backend> {
  if (name === "s3") {
    const s3 = await startS3rver();
    // One attempt: an outage should fail fast, not after the SDK's retries.
    const client = new S3Client({ region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials, maxAttempts: 1 });
    let stopped = false;
    return {
      name,
      storage: s3Storage({ bucket: s3.bucket, client }),
      put: async (key, bytes) => void (await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: bytes }))),
      takeDown: async () => { stopped = true; await s3.stop(); },
      close: async () => { client.destroy(); if (!stopped) await s3.stop(); },
    };
  }
  if (name === "azure") {
    const azurite = await startAzurite();
    const credential = new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey);
    const service = new BlobServiceClient(azurite.blobEndpoint, credential, { retryOptions: { maxTries: 1 } });
    const containerClient = service.getContainerClient(azurite.container);
    let stopped = false;
    return {
      name,
      storage: azureStorage({ containerClient, credential }),
      put: async (key, bytes) => void (await containerClient.getBlockBlobClient(key).uploadData(bytes)),
      takeDown: async () => { stopped = true; await azurite.stop(); },
      close: async () => { if (!stopped) await azurite.stop(); },
    };
  }
  const root = await mkdtemp(join(tmpdir(), "cleanup-test-"));
  const disk = filesystemStorage({ root });
  let down = false;
  // Tests run as root here, so permissions cannot make the disk fail; the fault is injected instead.
  const dead = (operation: string) => new Error(`[filesystem] ${operation} failed: EIO: i/o error (injected)`);
  const storage: StorageDriver = Object.assign(Object.create(disk) as StorageDriver, {
    stat: (key: string) => (down ? Promise.reject(dead("stat")) : disk.stat(key)),
    delete: (key: string) => (down ? Promise.reject(dead("delete")) : disk.delete(key)),
  });
  return {
    name,
    storage,
    root,
    put: (key, bytes) => disk.write(key, [bytes], { size: bytes.length }),
    takeDown: async () => { down = true; },
    close: () => rm(root, { recursive: true, force: true }),
  };
}

export interface CleanupContext {
  uploads: AsyncUploads;
  db: Database;
  backend: Backend;
  /** Database URL and schema when on PostgreSQL, so that a second connection can join. */
  url?: string;
  schema?: string;
  close(): Promise<void>;
}

/** A fresh database and uploads on `backend`, with two registered fields. */
export async function createCleanupContext(backend: Backend): Promise<CleanupContext> {
  const connection = await createTestDatabase();
  const uploads = uploadsOn(connection.db, backend.storage);
  return { uploads, db: connection.db, backend, url: connection.url, schema: connection.schema, close: () => connection.close() };
}

export function uploadsOn(db: Database, storage: StorageDriver): AsyncUploads {
  const uploads = createAsyncUploads({ db, secret: TEST_SECRET, storage, getPrincipal: () => "alice" });
  uploads.registry.register(FIELD, { maxSize: MiB });
  uploads.registry.register(OTHER_FIELD, { maxSize: MiB });
  return uploads;
}

export interface SeedRow {
  status?: TempFileStatus;
  /** How long ago the row was created. */
  ageMs: number;
  fieldId?: string;
  /** Bytes of the object at the row's key; null: there is no object (never uploaded, already deleted). */
  bytes?: Uint8Array | null;
  /** A key instead of a fresh temp key (e.g. a replaced file's final key). */
  key?: string;
  committedKey?: string;
  /** When the upload stops being committable, from now. @default 24 h after creation */
  expiresInMs?: number;
}

/** Inserts rows (one statement) and writes their objects; returns the rows' ids and keys in order. */
export async function seed(context: CleanupContext, rows: SeedRow[]): Promise<Array<{ id: string; key: string }>> {
  const now = Date.now();
  const values = rows.map((row) => {
    const id = crypto.randomUUID();
    const createdAt = new Date(now - row.ageMs);
    return {
      id,
      key: row.key ?? makeTempKey(context.uploads.settings.tempPrefix, id, "file.txt", createdAt),
      fieldId: row.fieldId ?? FIELD,
      principal: "alice",
      originalFilename: "file.txt",
      contentType: "text/plain",
      declaredSize: row.bytes?.length ?? 0,
      status: row.status ?? "pending",
      committedKey: row.committedKey ?? null,
      createdAt,
      expiresAt: row.expiresInMs === undefined ? new Date(createdAt.getTime() + 24 * HOUR) : new Date(now + row.expiresInMs),
    };
  });
  for (let i = 0; i < values.length; i += 500) await context.db.insert(asyncTempFile).values(values.slice(i, i + 500));
  const writes = rows.map((row, i) => (row.bytes ? () => context.backend.put(values[i]!.key, row.bytes!) : null));
  for (let i = 0; i < writes.length; i += 50) await Promise.all(writes.slice(i, i + 50).map((write) => write?.()));
  return values.map(({ id, key }) => ({ id, key }));
}

export const bytes = (size: number, fill = 0x61) => new Uint8Array(size).fill(fill);

export async function rowIds(db: Database, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db.select({ id: asyncTempFile.id }).from(asyncTempFile).where(inArray(asyncTempFile.id, ids));
  return rows.map((row) => row.id).sort();
}

export async function rowCount(db: Database): Promise<number> {
  return (await db.select({ id: asyncTempFile.id }).from(asyncTempFile)).length;
}

export async function statusOf(db: Database, id: string): Promise<string | null> {
  const [row] = await db.select({ status: asyncTempFile.status }).from(asyncTempFile).where(eq(asyncTempFile.id, id));
  return row?.status ?? null;
}

export const exists = async (storage: StorageDriver, key: string) => (await storage.stat(key)) !== null;

/** A storage that records every delete and can hold deletes until released (to order a race). */
export function spyOn(storage: StorageDriver) {
  const deleted: string[] = [];
  let gate: { promise: Promise<void>; release: () => void; reached: () => void; whenReached: Promise<void> } | null = null;
  const spied: StorageDriver = Object.assign(Object.create(storage) as StorageDriver, {
    delete: async (key: string) => {
      if (gate) {
        gate.reached();
        await gate.promise;
      }
      await storage.delete(key);
      deleted.push(key);
    },
  });
  return {
    storage: spied,
    deleted,
    /** Makes the next deletes wait; resolves `whenReached` at the first one. */
    hold() {
      let release!: () => void;
      let reached!: () => void;
      const promise = new Promise<void>((resolve) => (release = resolve));
      const whenReached = new Promise<void>((resolve) => (reached = resolve));
      gate = { promise, release, reached, whenReached };
      return { whenReached, release: () => { gate = null; release(); } };
    },
  };
}
