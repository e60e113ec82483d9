import { and, eq, ne } from "drizzle-orm";
import type { Database } from "../db/database.js";
import { asyncTempFile, type AsyncTempFile } from "../db/schema.js";
import { AsyncUploadsError } from "../errors.js";
import { basenameOfKey, finalKeyProblem } from "../keys.js";
import type { Field, FieldRegistry } from "../registry.js";
import { finishDeletion, scheduleDeletion } from "./scheduled-deletion.js";
import { verifyStoredObject } from "./verify-object.js";
import { isSourceChanged } from "../storage/source-changed.js";

export interface CommitRequest {
  fieldId: string;
  /** The form value: the string the widget submitted, or one per file for `multiple` fields. */
  value: string | readonly string[] | null | undefined;
  /** Who is saving; must be the principal that asked for the upload URL. */
  principal: string | null;
  /** The record being saved (already known inside the app's transaction, also for new records). */
  instanceId: string;
  /** The key(s) the record holds now (edit forms); a value equal to one of them is kept as is. */
  currentKey?: string | readonly string[] | null;
}

export interface CommittedFile {
  key: string;
  /** The sanitised original name. */
  filename: string;
  size: number;
  /** The sniffed type. */
  contentType: string;
  width?: number;
  height?: number;
}

export interface CommitResult {
  /** For single fields: the key the record holds now, or null when the file was removed. */
  key: string | null;
  /** Every key the record holds now, in form order. */
  keys: string[];
  /** Files that this save stored (kept files are not listed). */
  committed: CommittedFile[];
}

/** A commit made inside a transaction, with what is left to do once that transaction ended. */
export interface PreparedCommit extends CommitResult {
  /** Deletes temp objects and replaced or removed files. Called after the transaction committed. */
  afterCommit(): Promise<void>;
  /** Deletes the copies this save made. Called when the transaction rolled back. */
  afterRollback(): Promise<void>;
}

export interface CommitDeps {
  db: Database;
  registry: FieldRegistry;
  tempPrefix: string;
  now: () => Date;
  log: (message: string, error: unknown) => void;
}

/**
 * Commits what a form submitted for one field inside `tx`. Each new upload is checked (row, owner,
 * expiry, stored size and sniffed type), copied server-side to its final key and its row marked
 * committed; temp objects and replaced files are deleted only by `afterCommit`, so a save that rolls
 * back or is retried never loses a file. Called by `commitInTransaction` only, which runs the hooks.
 */
export async function prepareCommit(deps: CommitDeps, tx: Database, request: CommitRequest): Promise<PreparedCommit> {
  const field = deps.registry.get(request.fieldId);
  if (!field) throw new Error(`[async-uploads] commit: field "${request.fieldId}" is not registered`);
  const values = normalizeValue(field, request.value);
  const current = toList(request.currentKey);
  const committed: Array<CommittedFile & { rowId: string; tempKey: string }> = [];
  try {
    for (const value of values) {
      if (current.includes(value)) continue;
      committed.push(await commitNewUpload(deps, tx, field, request, value));
    }
  } catch (error) {
    // Our copies are still guarded by this transaction's row locks, so removing them now is safe.
    await Promise.allSettled(committed.map((file) => field.storage.delete(file.key)));
    throw error;
  }
  const removed = current.filter((key) => !values.includes(key)).map((key) => ({ key, status: "discarded" as const }));
  const discarded = removed.map(({ key }) => ({ key, fieldId: field.id, principal: request.principal, instanceId: request.instanceId }));
  await scheduleDeletion(tx, discarded, deps.now());

  // The record holds the final keys: a new upload's temp key is replaced by the key it was copied to.
  const keys = values.map((value) => committed.find((file) => file.tempKey === value)?.key ?? value);
  return {
    key: keys[0] ?? null,
    keys,
    committed: committed.map(({ rowId: _r, tempKey: _t, ...file }) => file),
    afterCommit: async () => {
      const done = [...committed.map((file) => ({ key: file.tempKey, status: "committed" as const })), ...removed];
      const results = await Promise.allSettled(done.map((row) => finishDeletion(deps.db, field.storage, row)));
      for (const result of results) {
        if (result.status === "rejected") deps.log("afterCommit left work for cleanup-temp-files", result.reason);
      }
    },
    afterRollback: async () => {
      await Promise.all(committed.map((file) => deleteCopyUnlessCommitted(deps, field, file.rowId, file.key)));
    },
  };
}

async function commitNewUpload(
  deps: CommitDeps,
  tx: Database,
  field: Field,
  request: CommitRequest,
  value: string,
): Promise<CommittedFile & { rowId: string; tempKey: string }> {
  const refuse = (message: string) => new AsyncUploadsError("invalid_upload", message, { fieldId: field.id });
  // A new upload's value is a temp key the server made. Anything else (a path, a final key, a NUL
  // byte the database would reject with an error) is refused before it reaches a query or a storage.
  if (!isTempKeyShaped(value, deps.tempPrefix)) throw refuse("This upload cannot be used here. Please choose the file again.");
  // The row lock makes a concurrent save of the same upload wait, and makes cleanup skip the row.
  const [row] = await tx.select().from(asyncTempFile).where(eq(asyncTempFile.key, value)).for("update");
  if (!row || row.fieldId !== field.id || row.principal !== request.principal) {
    throw refuse("This upload cannot be used here. Please choose the file again.");
  }
  if (row.instanceId !== null && row.instanceId !== request.instanceId) {
    throw refuse("This upload was made for another record. Please choose the file again.");
  }
  if (row.status !== "pending") throw refuse("This upload was already saved or rejected. Please choose the file again.");
  if (row.expiresAt.getTime() <= deps.now().getTime()) throw refuse("This upload has expired. Please choose the file again.");
  // A chunked upload whose parts were never assembled (`multipart/complete`): there is no file yet.
  if (row.uploadId !== null) throw refuse("This file has not finished uploading. Wait until it has, or choose it again.");
  // A field with processing steps takes a file only once every step passed (`server/processing/`).
  if (field.processing.length > 0 && row.processingState !== "passed") throw refuse(processingRefusal(row));

  const filename = basenameOfKey(row.key);
  const finalKey = field.uploadTo({ fieldId: field.id, instanceId: request.instanceId, filename, fileId: row.id });
  const problem = finalKeyProblem(finalKey, deps.tempPrefix);
  if (problem) throw new Error(`[async-uploads] field "${field.id}": uploadTo returned "${finalKey}", which ${problem}`);
  if (!finalKey.includes(row.id)) {
    throw new Error(`[async-uploads] field "${field.id}": uploadTo must include fileId so that final keys are unique`);
  }

  // Copied first, then checked where it is kept: nobody but us writes the final key, so what is kept
  // is what is checked, even though an S3 presigned URL can write the temp key again until it expires.
  // The copy is told the declared size and that it will be checked, so it can be one storage call.
  try {
    await field.storage.copy(row.key, finalKey, { expectedSize: row.declaredSize });
  } catch (error) {
    // Written again while it was copied (a driver that pins its copy): refused like changed content.
    if (isSourceChanged(error)) {
      await Promise.all([field.storage.delete(finalKey), field.storage.delete(row.key)]);
      await markFailed(tx, row, "content changed during commit (while copied)");
      throw refuse("The file changed while it was being saved. Please choose it again.");
    }
    // A copy fails on an upload that is missing or far from the size announced: say so, as the check would.
    const source = await verifyStoredObject(field, row);
    if (source.ok) throw error;
    await Promise.all([field.storage.delete(finalKey), field.storage.delete(row.key)]);
    await markFailed(tx, row, source.reason);
    throw refuse(source.message);
  }
  const copied = await verifyStoredObject(field, row, finalKey);
  if (!copied.ok) {
    await Promise.all([field.storage.delete(finalKey), field.storage.delete(row.key)]);
    await markFailed(tx, row, copied.reason);
    throw refuse(copied.message);
  }
  await tx
    .update(asyncTempFile)
    .set({ status: "committed", committedKey: finalKey, instanceId: request.instanceId })
    .where(eq(asyncTempFile.id, row.id));
  const { mime, width, height } = copied.content;
  return {
    key: finalKey,
    filename,
    size: copied.size,
    contentType: mime,
    ...(width !== undefined && height !== undefined ? { width, height } : {}),
    rowId: row.id,
    tempKey: row.key,
  };
}

/** Why a file of a field with processing steps cannot be saved yet, in the person's words. */
function processingRefusal(row: AsyncTempFile): string {
  if (row.processingState === "rejected") return `This file was rejected: ${row.processingReason ?? "it did not pass the checks"}`;
  if (row.processingState === "failed") return "This file could not be checked. Try again, or choose another file.";
  return "This file is still being checked. Wait until it is ready, or remove it.";
}

function normalizeValue(field: Field, value: CommitRequest["value"]): string[] {
  const refuse = (message: string) => new AsyncUploadsError("invalid_upload", message, { fieldId: field.id });
  const list = value === null || value === undefined ? [] : typeof value === "string" ? [value] : [...value];
  if (list.some((item) => typeof item !== "string")) throw refuse("The submitted value is not a list of file keys.");
  const keys = list.filter((item) => item !== "");
  if (!field.multiple && keys.length > 1) throw refuse("This field holds one file only.");
  if (keys.length > field.maxFiles) throw refuse(`This field holds at most ${field.maxFiles} files.`);
  if (new Set(keys).size !== keys.length) throw refuse("The same file was submitted twice.");
  return keys;
}

function isTempKeyShaped(value: string, tempPrefix: string): boolean {
  return value.startsWith(tempPrefix) && value.length <= 1024 && !/[\u0000\\]|\p{Cs}/u.test(value);
}

function toList(keys: CommitRequest["currentKey"]): string[] {
  if (keys === null || keys === undefined) return [];
  return (typeof keys === "string" ? [keys] : [...keys]).filter((key) => key !== "");
}

async function markFailed(tx: Database, row: AsyncTempFile, reason: string): Promise<void> {
  await tx.update(asyncTempFile).set({ status: "failed", error: reason }).where(eq(asyncTempFile.id, row.id));
}

/**
 * After a rollback the row is `pending` again, but a concurrent retry of the same save may already
 * hold it and be about to commit the very same final key. Taking the row lock first means the copy is
 * deleted only when no save committed it; a row that is gone is left alone (a leak, never a loss).
 */
async function deleteCopyUnlessCommitted(deps: CommitDeps, field: Field, rowId: string, finalKey: string): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .select({ id: asyncTempFile.id })
      .from(asyncTempFile)
      .where(and(eq(asyncTempFile.id, rowId), ne(asyncTempFile.status, "committed")))
      .for("update");
    if (row) await field.storage.delete(finalKey);
  });
}
