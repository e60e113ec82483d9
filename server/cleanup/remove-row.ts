import { multipartStateOf } from "../multipart/plan.js";
import type { Field } from "../registry.js";
import type { StorageDriver } from "../storage/types.js";
import { errorLine } from "./error-line.js";

/** After this many failures in a row a storage is treated as down for the rest of the run. */
export const STORAGE_DOWN_AFTER = 10;

/** What cleanup reads of a claimed row. */
export interface CleanupRow {
  id: string;
  key: string;
  fieldId: string;
  status: string;
  committedKey: string | null;
  uploadId: string | null;
  partSize: number | null;
  /** The size the upload was allowed to store (0 for a `discarded` row: a saved file, size not recorded). */
  declaredSize: number;
  /** `created_at` as exact text, for the keyset. */
  cursor: string;
}

/** What became of one row: its object removed (the row goes with it), left for the next run, or left alone. */
export type RemovalOutcome = { kind: "removed"; bytes: number } | { kind: "failed" | "skipped"; reason: string };

/**
 * Counts each storage's failures in a row over a run, so that a storage that is down is not tried for
 * every one of its rows. `onDown` is told once per storage.
 */
export class StorageHealth {
  readonly #failures = new Map<StorageDriver, number>();
  constructor(private readonly onDown: (storage: StorageDriver) => void) {}

  isDown(storage: StorageDriver): boolean {
    return (this.#failures.get(storage) ?? 0) >= STORAGE_DOWN_AFTER;
  }

  succeeded(storage: StorageDriver): void {
    this.#failures.set(storage, 0);
  }

  failed(storage: StorageDriver): void {
    const failures = (this.#failures.get(storage) ?? 0) + 1;
    this.#failures.set(storage, failures);
    if (failures === STORAGE_DOWN_AFTER) this.onDown(storage);
  }
}

/**
 * One claimed row's removal, storage side: a chunked upload never completed has its staged parts
 * aborted first (S3 abort, Azure blocks, chunk files), then the object at `key` is deleted. The row
 * itself is deleted by the caller, in the transaction that claimed it, and only when this returns
 * `removed`. A committed file is never touched: `committed_key` is not the key deleted here, and a
 * row whose temp key is its committed key is skipped. An object already gone counts as removed.
 *
 * The bytes freed are the row's declared size, not looked up: the storage held the upload to that
 * size (S3's signed policy and the filesystem refuse any other; Azure cannot pin it, and commit
 * refuses another), so no per-row call is spent on a report. A `discarded` row (a saved file)
 * records no size, so its object is looked at.
 */
export async function removeRow(
  row: CleanupRow,
  field: Field | undefined,
  health: StorageHealth,
  dryRun: boolean,
  deferDelete = false,
): Promise<RemovalOutcome | DeferredRemoval> {
  if (!field) return { kind: "skipped", reason: `field "${row.fieldId}" is not registered in this configuration` };
  if (row.committedKey !== null && row.committedKey === row.key) {
    return { kind: "skipped", reason: "temp key equals committed key (never deleted)" };
  }
  const storage = field.storage;
  if (health.isDown(storage)) {
    return { kind: "failed", reason: `[${storage.name}] not tried: storage failed ${STORAGE_DOWN_AFTER} times in a row` };
  }
  try {
    const open = multipartStateOf(row);
    if (open && !dryRun) await storage.multipart?.abort(row.key, open.uploadId);
    const bytes = row.status === "discarded" ? ((await storage.stat(row.key))?.size ?? 0) : row.declaredSize;
    const removed = { kind: "removed", bytes } as const;
    // A storage that deletes in batches is left to `deleteDeferred`, with the other rows of the batch.
    if (deferDelete && !dryRun && storage.deleteMany) return { kind: "deferred", storage, removed };
    // Deleting is idempotent: an object already gone is no error.
    if (!dryRun) await storage.delete(row.key);
    health.succeeded(storage);
    return removed;
  } catch (error) {
    health.failed(storage);
    return { kind: "failed", reason: errorLine(error) };
  }
}

/** A row whose staged parts are gone, its object to be deleted with others. */
export interface DeferredRemoval {
  kind: "deferred";
  storage: StorageDriver;
  removed: RemovalOutcome & { kind: "removed" };
}

/**
 * Deletes the objects of the deferred rows of a batch with one `deleteMany` per storage (S3: one
 * DeleteObjects call for up to 1,000 keys, where `delete` makes one call per key), and settles each
 * row: removed, or failed with the storage's reason for its key.
 */
export async function deleteDeferred(rows: readonly CleanupRow[], outcomes: ReadonlyArray<RemovalOutcome | DeferredRemoval>, health: StorageHealth): Promise<RemovalOutcome[]> {
  const byStorage = new Map<StorageDriver, string[]>();
  outcomes.forEach((outcome, i) => {
    if (outcome.kind !== "deferred") return;
    const keys = byStorage.get(outcome.storage) ?? [];
    keys.push(rows[i]!.key);
    byStorage.set(outcome.storage, keys);
  });
  const failures = new Map<string, string>();
  await Promise.all(
    [...byStorage].map(async ([storage, keys]) => {
      let failed: Array<{ key: string; reason: string }>;
      try {
        failed = await storage.deleteMany!(keys);
      } catch (error) {
        failed = keys.map((key) => ({ key, reason: errorLine(error) }));
      }
      for (const { key, reason } of failed) failures.set(key, reason);
      if (failed.length === 0) health.succeeded(storage);
      for (const _ of failed) health.failed(storage);
    }),
  );
  return outcomes.map((outcome, i) => {
    if (outcome.kind !== "deferred") return outcome;
    const reason = failures.get(rows[i]!.key);
    return reason === undefined ? outcome.removed : { kind: "failed", reason };
  });
}
