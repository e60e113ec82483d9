import { afterAll, beforeAll, beforeEach } from "vitest";
import { eq, inArray } from "drizzle-orm";
import { createAsyncUploads, type AsyncUploads } from "../../../server/create-async-uploads";
import type { Database } from "../../../server/db/database";
import { asyncTempFile, type TempFileStatus } from "../../../server/db/schema";
import { makeTempKey } from "../../../server/keys";
import { MiB } from "../../../server/registry";
import type { StorageDriver } from "../../../server/storage/types";
import { startBackend as startTestBackend, type BackendName, type TestBackend } from "../../helpers/backends";
import { createTestDatabase } from "../../helpers/db";
import { TEST_SECRET } from "../../helpers/uploads";

export const HOUR = 60 * 60 * 1000;
export { BACKENDS, type BackendName } from "../../helpers/backends";
export const FIELD = "docs.file";
export const OTHER_FIELD = "avatars.image";
export const onPostgres = Boolean(process.env.DATABASE_URL);

/** A real storage backend (test/helpers/backends.ts) whose clients try once: an outage fails fast, not after the SDK's retries. */
export const startBackend = (name: BackendName): Promise<Backend> => startTestBackend(name, { attempts: 1 });
export type Backend = TestBackend;

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

/**
 * The setup every cleanup suite shares: a backend and a fresh database for the describe block
 * (started in `beforeAll`, closed in `afterAll`) and, unless `emptyEachTest` is false, an empty
 * table before each test. The returned context reads through to them once `beforeAll` has run.
 */
export function useCleanupContext(name: BackendName, { emptyEachTest = true }: { emptyEachTest?: boolean } = {}): CleanupContext {
  let backend: Backend | undefined;
  let started: CleanupContext | undefined;
  const current = () => started ?? raise("the cleanup context is started in beforeAll");
  beforeAll(async () => {
    backend = await startBackend(name);
    started = await createCleanupContext(backend);
  });
  afterAll(async () => {
    await started?.close();
    await backend?.close();
  });
  if (emptyEachTest) beforeEach(async () => void (await current().db.delete(asyncTempFile)));
  return {
    get uploads() { return current().uploads; },
    get db() { return current().db; },
    get backend() { return current().backend; },
    get url() { return current().url; },
    get schema() { return current().schema; },
    close: () => current().close(),
  };
}

function raise(message: string): never {
  throw new Error(message);
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

/** A storage that records every delete (one by one or many at once) and can hold deletes until released (to order a race). */
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
    // Cleanup deletes a batch's objects in one call where the storage can (S3).
    ...(storage.deleteMany && {
      deleteMany: async (keys: readonly string[]) => {
        if (gate) {
          gate.reached();
          await gate.promise;
        }
        const failed = await storage.deleteMany!(keys);
        deleted.push(...keys.filter((key) => !failed.some((failure) => failure.key === key)));
        return failed;
      },
    }),
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
