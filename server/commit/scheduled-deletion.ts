import { and, eq } from "drizzle-orm";
import type { Database } from "../db/database.js";
import { asyncTempFile, type TempFileStatus } from "../db/schema.js";
import { basenameOfKey } from "../keys.js";
import type { StorageDriver } from "../storage/types.js";

/** A saved file that a save replaced or removed: its final key, and whose it was. */
export interface DiscardedFile {
  key: string;
  fieldId: string;
  principal: string | null;
  instanceId: string;
}

/**
 * Schedules the deletion of saved files by recording each as a `discarded` row in `tx`, the app's
 * transaction: the deletion commits or rolls back with the app's own change, and survives a crash right
 * after the commit. `afterCommit` then deletes at once (`finishDeletion`), and `cleanup-temp-files`
 * does if the process died first. Recording a key twice (two saves removing one file) records it once.
 */
export async function scheduleDeletion(tx: Database, files: readonly DiscardedFile[], now: Date): Promise<void> {
  if (files.length === 0) return;
  await tx
    .insert(asyncTempFile)
    .values(
      files.map((file) => ({
        id: crypto.randomUUID(),
        key: file.key,
        fieldId: file.fieldId,
        principal: file.principal ?? "",
        instanceId: file.instanceId,
        // Not an upload: these columns say only what is known of a saved file from its key.
        originalFilename: basenameOfKey(file.key),
        contentType: "application/octet-stream",
        declaredSize: 0,
        status: "discarded" as const,
        expiresAt: now,
      })),
    )
    .onConflictDoNothing({ target: asyncTempFile.key });
}

/**
 * Finishes a row that waits only for its object to go (a committed upload's temp object, a discarded
 * file): deletes the object, then the row, unless someone changed its status meanwhile. Deleting an
 * object that is already gone succeeds, so `afterCommit` and a cleanup run may both do it.
 */
export async function finishDeletion(db: Database, storage: StorageDriver, row: { key: string; status: TempFileStatus }): Promise<void> {
  await storage.delete(row.key);
  await db.delete(asyncTempFile).where(and(eq(asyncTempFile.key, row.key), eq(asyncTempFile.status, row.status)));
}
