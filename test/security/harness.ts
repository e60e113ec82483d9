import { eq } from "drizzle-orm";
import { expect } from "vitest";
import type { UploadUrlResponse } from "../../shared/schemas";
import type { CommitRequest, CommitResult } from "../../server/commit/commit";
import type { AsyncUploads, AsyncUploadsOptions } from "../../server/create-async-uploads";
import { asyncTempFile, type AsyncTempFile } from "../../server/db/schema";
import { AsyncUploadsError } from "../../server/errors";
import { KiB, MiB } from "../../server/registry";
import type { StorageDriver } from "../../server/storage/types";
import { startBackend, type BackendName, type TestBackend } from "../helpers/backends";
import { createTestUploads, type TestUploads } from "../helpers/uploads";
import { uploadLikeBrowser } from "../server/storage/contract";

/**
 * The attacker's test bench: a real `createAsyncUploads` on a test database and a real backend
 * (the filesystem, s3rver or Azurite), a small "app" that saves records the way an app must (owner
 * check, `uploads.transaction`), and ways to list what the storage really holds afterwards.
 */

export { BACKENDS, type BackendName } from "../helpers/backends";
export const onPostgres = Boolean(process.env.DATABASE_URL);

/** Fields every security test registers. */
export const FIELDS = {
  /** Anything up to 1 MiB. */
  file: "docs.file",
  /** Raster and other images (`image/*`), 1 MiB. */
  image: "docs.image",
  /** Word documents by extension, or PDF. */
  word: "docs.word",
  /** Anything up to 1 KiB. */
  small: "docs.small",
} as const;

/** One record of the little app: who owns it and the keys each field holds. */
interface AppRecord {
  owner: string;
  keys: Record<string, string[]>;
}

export interface Harness extends Omit<TestUploads, "put"> {
  backend: TestBackend;
  /** The app's records, by instance id. */
  records: Map<string, AppRecord>;
  /** Sends the bytes to an issued target the way a browser would, on any backend. */
  upload(target: UploadUrlResponse, bytes: Uint8Array<ArrayBuffer>, contentType?: string): Promise<Response>;
  /** upload-url then upload; returns the temp key (asserts both succeed). */
  uploaded(fieldId: string, bytes: Uint8Array<ArrayBuffer>, options?: UploadedOptions): Promise<string>;
  /**
   * Saves one field of a record as the app does: refuses a record the principal does not own, then
   * commits inside `uploads.transaction` with the record's current keys and stores the result.
   */
  save(principal: string | null, instanceId: string, fieldId: string, value: CommitRequest["value"]): Promise<CommitResult>;
  rowOf(key: string): Promise<AsyncTempFile | undefined>;
}

export interface UploadedOptions {
  filename?: string;
  contentType?: string;
  as?: string;
  instanceId?: string;
  /** Declared size when it differs from the bytes sent. */
  size?: number;
}

/** A harness on a fresh database and a backend: one started here by name, or one given (and closed with the harness). */
export async function createHarness(
  backendOrName: BackendName | TestBackend,
  options: Partial<AsyncUploadsOptions> & { s3UploadMethod?: "POST" | "PUT"; register?: (uploads: AsyncUploads) => void } = {},
): Promise<Harness> {
  const backend =
    typeof backendOrName === "string" ? await startBackend(backendOrName, { s3UploadMethod: options.s3UploadMethod }) : backendOrName;
  const records = new Map<string, AppRecord>();
  const owns = (principal: string, instanceId: string | undefined) =>
    instanceId === undefined || (records.get(instanceId)?.owner ?? principal) === principal;
  const resolveKey = (fieldId: string) => async ({ instanceId }: { instanceId: string }) => records.get(instanceId)?.keys[fieldId] ?? null;
  const access = (fieldId: string) => ({
    canUpload: ({ principal, instanceId }: { principal: string; instanceId?: string }) => owns(principal, instanceId),
    canDownload: ({ principal, instanceId }: { principal: string; instanceId: string }) => records.get(instanceId)?.owner === principal,
    resolveKey: resolveKey(fieldId),
  });
  const { s3UploadMethod: _method, register, ...rest } = options;
  const t = await createTestUploads({
    storage: backend.storage,
    ...rest,
    register: (uploads) => {
      uploads.registry.register(FIELDS.file, { maxSize: MiB, ...access(FIELDS.file) });
      uploads.registry.register(FIELDS.image, { maxSize: MiB, accept: ["image/*"], ...access(FIELDS.image) });
      uploads.registry.register(FIELDS.word, { maxSize: MiB, accept: [".docx", "application/pdf"], ...access(FIELDS.word) });
      uploads.registry.register(FIELDS.small, { maxSize: KiB, ...access(FIELDS.small) });
      register?.(uploads);
    },
  });

  const upload: Harness["upload"] = (target, bytes, contentType) => {
    if (backend.name === "filesystem") return t.put(target, bytes, contentType);
    const type = contentType ?? target.upload.headers["Content-Type"] ?? target.upload.fields?.["Content-Type"] ?? "application/octet-stream";
    return uploadLikeBrowser(target.upload, bytes, type);
  };

  return {
    ...t,
    backend,
    records,
    upload,
    async uploaded(fieldId, bytes, o = {}) {
      const target = await t.issue(
        {
          fieldId,
          filename: o.filename ?? "file.bin",
          contentType: o.contentType ?? "application/octet-stream",
          size: o.size ?? bytes.length,
          ...(o.instanceId ? { instanceId: o.instanceId } : {}),
        },
        o.as ?? "alice",
      );
      const response = await upload(target, bytes);
      expect(response.ok, `upload answered ${response.status}`).toBe(true);
      return target.key;
    },
    async save(principal, instanceId, fieldId, value) {
      const record = records.get(instanceId);
      if (record && record.owner !== principal) throw new Error("app: not your record");
      const result = await t.uploads.transaction((_tx, commit) =>
        commit({ fieldId, value, principal, instanceId, currentKey: record?.keys[fieldId] ?? null }),
      );
      const saved = records.get(instanceId) ?? { owner: principal ?? "", keys: {} };
      saved.keys[fieldId] = result.keys;
      records.set(instanceId, saved);
      return result;
    },
    async rowOf(key) {
      return (await t.db.select().from(asyncTempFile).where(eq(asyncTempFile.key, key)))[0];
    },
    async close() {
      await t.close();
      await backend.close();
    },
  };
}

/** Asserts that `promise` is refused with `invalid_upload` and returns the error. */
export async function refused(promise: Promise<unknown>): Promise<AsyncUploadsError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error, "expected the save to be refused").toBeInstanceOf(AsyncUploadsError);
  expect((error as AsyncUploadsError).code).toBe("invalid_upload");
  return error as AsyncUploadsError;
}

/** The error body of a response, asserting its status. */
export async function errorOf(response: Response, status: number): Promise<{ code: string; message: string }> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  return (JSON.parse(text) as { error: { code: string; message: string } }).error;
}

/** A storage wrapper that records every key it is asked about, to prove an attack never reached storage. */
export function recordingStorage(driver: StorageDriver): { storage: StorageDriver; keys: string[] } {
  const keys: string[] = [];
  const record =
    <A extends unknown[], R>(method: (...args: A) => Promise<R>) =>
    (...args: A) => {
      for (const arg of args) if (typeof arg === "string") keys.push(arg);
      return method.apply(driver, args);
    };
  const storage: StorageDriver = Object.assign(Object.create(driver) as StorageDriver, {
    stat: record(driver.stat),
    readFirstBytes: record(driver.readFirstBytes),
    copy: record(driver.copy),
    delete: record(driver.delete),
  });
  return { storage, keys };
}

/** `async-temp/yyyy/mm/dd/{uuid}/{one safe segment}` */
export const TEMP_KEY = /^async-temp\/\d{4}\/\d{2}\/\d{2}\/[0-9a-f-]{36}\/[^/\\\0]+$/;

export const text = (value: string) => new TextEncoder().encode(value);
