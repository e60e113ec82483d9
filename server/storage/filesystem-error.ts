/**
 * Why the filesystem driver refused bytes it was given:
 * - `too_large`: more bytes arrived than the declared size (refused while streaming);
 * - `too_short`: fewer bytes arrived than the declared size;
 * - `already_exists`: a file is already stored at the key, and the driver never overwrites;
 * - `gone`: the chunked upload a part was written for no longer holds parts (completed or aborted meanwhile).
 */
export type FilesystemErrorKind = "too_large" | "too_short" | "already_exists" | "gone";

/**
 * A refusal of the filesystem driver, as opposed to a failure of the disk (which is a `driverError`).
 * The driver knows nothing of HTTP: the app's `fs/` routes turn each kind into an answer. The message
 * speaks of bytes, never of keys or paths, so that a route may show it to the uploader.
 */
export class FilesystemError extends Error {
  readonly kind: FilesystemErrorKind;

  constructor(kind: FilesystemErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FilesystemError";
    this.kind = kind;
  }
}

/** Whether `error` is a Node.js system error with this `code` (ENOENT, EEXIST, …). */
export function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
