import type { StorageDriver } from "../storage/types.js";

/**
 * The streaming write of the issue 15 contract (added to the drivers by the storage work): the bytes
 * of `body` to a new object at `key`, never the whole file in memory, nothing visible after a failure.
 * Narrow on purpose: exports need nothing else from the driver interface's addition.
 */
export interface StreamingWrite {
  writeStream(key: string, body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>, options: { contentType: string; signal?: AbortSignal }): Promise<{ size: number }>;
}

/** Whether a driver can store an export (it has `writeStream`). */
export function canStreamWrite(storage: StorageDriver): storage is StorageDriver & StreamingWrite {
  return typeof (storage as Partial<StreamingWrite>).writeStream === "function";
}

/**
 * Writes `body` to `key` through the driver's `writeStream`. A driver without one is a setup error,
 * reported when the worker first meets it (the registration may come before the driver is updated).
 */
export async function writeExportObject(
  storage: StorageDriver,
  key: string,
  body: AsyncIterable<Uint8Array>,
  options: { contentType: string; signal: AbortSignal },
): Promise<{ size: number }> {
  if (canStreamWrite(storage)) return storage.writeStream(key, body, options);
  throw new Error(`[async-uploads] the ${storage.name} storage cannot store exports: it has no writeStream(key, body, { contentType, signal })`);
}
