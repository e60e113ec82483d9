import type { Database } from "../db/database.js";
import { prepareCommit, type CommitDeps, type CommitRequest, type CommitResult, type PreparedCommit } from "./commit.js";

/** What `save` is given to commit a field's form value inside its transaction. */
export type CommitInTransaction = (request: CommitRequest) => Promise<CommitResult>;

/** An app's save: its own writes on `tx`, and one `commit` per upload field. */
export type Save<T> = (tx: Database, commit: CommitInTransaction) => Promise<T>;

/**
 * The one way a commit runs: `save` in a transaction of `deps.db`, then the work each commit left
 * for after it: temp and replaced objects are deleted once the transaction committed, and the copies
 * are deleted if it rolled back. Both `uploads.transaction` and `uploads.commit` come through here.
 */
export async function commitInTransaction<T>(deps: CommitDeps, save: Save<T>): Promise<T> {
  const prepared: PreparedCommit[] = [];
  let value: T;
  try {
    value = await deps.db.transaction((tx) =>
      save(tx, async (request) => {
        const result = await prepareCommit(deps, tx, request);
        prepared.push(result);
        return withoutHooks(result);
      }),
    );
  } catch (error) {
    await Promise.allSettled(prepared.map((result) => result.afterRollback()));
    throw error;
  }
  // afterCommit never throws: what it could not delete is logged and left for cleanup-temp-files.
  await Promise.all(prepared.map((result) => result.afterCommit()));
  return value;
}

/** The hooks are run here and only here; the app gets the result alone. */
function withoutHooks({ afterCommit: _c, afterRollback: _r, ...result }: PreparedCommit): CommitResult {
  return result;
}
