/**
 * The error a driver's `copy` throws (as the cause of its own error) when the source object was
 * written again while it was being copied, so that the copy could hold bytes nobody checked. Commit
 * refuses such a save like one whose content changed, rather than failing it as a storage error.
 * (An S3 presigned URL can write its key again until it expires.)
 */
export class SourceChangedError extends Error {
  override name = "SourceChanged";
}

/** Whether `error`, or an error in its `cause` chain, is a `SourceChangedError`. */
export function isSourceChanged(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    if (current instanceof SourceChangedError) return true;
  }
  return false;
}
