import { describe, expect, it } from "vitest";
import { cleanupTempFiles } from "../../../server/cleanup/cleanup-temp-files";
import type { StorageDriver } from "../../../server/storage/types";
import { bytes, exists, FIELD, HOUR, rowIds, seed, useCleanupContext } from "./helpers";

/**
 * Cleanup on a storage that deletes in batches (`deleteMany`, S3's DeleteObjects): one call per batch
 * of rows instead of one per row, and a key the storage could not delete leaves its row for next time.
 */
describe("cleanup with a storage that deletes many keys at once", () => {
  const context = useCleanupContext("filesystem");

  /** The filesystem driver with a `deleteMany` that records its calls and refuses the keys in `refuse`. */
  function batchingStorage(refuse: Set<string>) {
    const base = context.backend.storage;
    const calls: string[][] = [];
    let singleDeletes = 0;
    const storage: StorageDriver = Object.assign(Object.create(base) as StorageDriver, {
      delete: async (key: string) => {
        singleDeletes++;
        await base.delete(key);
      },
      deleteMany: async (keys: readonly string[]) => {
        calls.push([...keys]);
        await Promise.all(keys.filter((key) => !refuse.has(key)).map((key) => base.delete(key)));
        return keys.filter((key) => refuse.has(key)).map((key) => ({ key, reason: "[test] AccessDenied" }));
      },
    });
    return { storage, calls, singleDeletes: () => singleDeletes };
  }

  it("deletes each batch's objects in one call, and keeps the rows whose objects it could not delete", async () => {
    const rows = await seed(context, Array.from({ length: 25 }, (_, i) => ({ ageMs: 25 * HOUR + i, bytes: bytes(10) })));
    const refused = rows[3]!.key;
    const batching = batchingStorage(new Set([refused]));
    Object.assign(context.uploads.registry.get(FIELD)!, { storage: batching.storage });
    try {
      const summary = await cleanupTempFiles(context.uploads, { batchSize: 10 });
      expect(batching.calls.map((keys) => keys.length)).toEqual([10, 10, 5]);
      expect(batching.singleDeletes()).toBe(0);
      expect(summary).toMatchObject({ scanned: 25, removed: 24, objectsDeleted: 24, bytesFreed: 240, failed: 1 });
      expect(summary.failures).toEqual([{ key: refused, fieldId: FIELD, reason: "[test] AccessDenied" }]);
      expect(await rowIds(context.db, rows.map((row) => row.id))).toEqual([rows[3]!.id]);
      expect(await exists(context.backend.storage, refused)).toBe(true);
      expect(await exists(context.backend.storage, rows[4]!.key)).toBe(false);
    } finally {
      Object.assign(context.uploads.registry.get(FIELD)!, { storage: context.backend.storage });
    }
  });

  it("a dry run deletes nothing", async () => {
    const rows = await seed(context, [{ ageMs: 25 * HOUR, bytes: bytes(10) }]);
    const batching = batchingStorage(new Set());
    Object.assign(context.uploads.registry.get(FIELD)!, { storage: batching.storage });
    try {
      expect(await cleanupTempFiles(context.uploads, { dryRun: true })).toMatchObject({ removed: 1, bytesFreed: 10 });
      expect(batching.calls).toEqual([]);
      expect(await exists(context.backend.storage, rows[0]!.key)).toBe(true);
    } finally {
      Object.assign(context.uploads.registry.get(FIELD)!, { storage: context.backend.storage });
    }
  });
});
