import type { PartTarget, StagedPart } from "../../shared/multipart.js";
import type { UploadTarget } from "../../shared/schemas.js";
import type { StreamBody, WriteStreamOptions } from "./stream-parts.js";

export type { StreamBody, WriteStreamOptions } from "./stream-parts.js";

/** Bytes a driver receives itself (the filesystem driver): a request body (`Request.body`), a Node stream, or any (async) iterable of byte chunks. */
export type UploadBody = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** What a driver knows about a stored object. */
export interface ObjectInfo {
  size: number;
  /** The content type the service stored, if it keeps one (never trusted for security decisions). */
  contentType?: string;
}

/** Claims a local (filesystem) upload or download URL is signed over; see `server/tokens.ts`. */
export type LocalUrlClaims =
  | { purpose: "upload"; key: string; size: number; contentType: string; expiresAt: number }
  | { purpose: "download"; key: string; filename: string; expiresAt: number }
  | { purpose: "upload-part"; key: string; uploadId: string; partNumber: number; offset: number; size: number; expiresAt: number };

/**
 * What the server hands a driver when it issues a URL. Only drivers that serve bytes through this app
 * (the filesystem driver) use it: it turns signed claims into an absolute URL of the app's own routes,
 * so the driver itself knows nothing about routes or secrets.
 */
export interface UrlContext {
  localUrl(claims: LocalUrlClaims): string;
}

export interface UploadTargetRequest {
  key: string;
  contentType: string;
  /** Exact size in bytes; drivers that can make the service enforce it do. */
  size: number;
  expiresAt: Date;
}

export interface DownloadUrlRequest {
  key: string;
  /** Name the browser saves the file as (sent as `Content-Disposition: attachment`). */
  filename: string;
  contentType?: string;
  expiresAt: Date;
}

/**
 * The small interface every storage backend implements (S3, Azure Blob, filesystem).
 * Methods return `null` only for "not found"; every other failure is thrown with the driver's name.
 */
/** A key `deleteMany` could not delete, and why (a readable line, prefixed with the driver's name). */
export interface DeleteManyFailure {
  key: string;
  reason: string;
}

/** How `copy` may go about it. */
export interface CopyOptions {
  /**
   * The size the caller expects `from` to have, passed only by a caller that checks the copy itself
   * afterwards (commit reads the copy's size and first bytes, and deletes a copy that fails). The
   * driver may then skip looking at the source before copying and re-checking it after (S3: one
   * CopyObject instead of HEAD, CopyObject, HEAD), and take this size for choosing how to copy. A
   * source of another size may be copied anyway or refused with an error: the caller's check decides.
   */
  expectedSize?: number;
}

/** An object's size and first bytes (`StorageDriver.readStart`). */
export interface ObjectStart {
  size: number;
  bytes: Uint8Array;
}

export interface StorageDriver {
  /** "s3" | "azure" | "filesystem" — used in messages and logs. */
  readonly name: string;
  /** A URL (and headers or form fields) the browser uploads the bytes to, directly. */
  createUploadTarget(request: UploadTargetRequest, context: UrlContext): Promise<UploadTarget>;
  /** Size (and stored type) of an object, or null when it does not exist. */
  stat(key: string): Promise<ObjectInfo | null>;
  /** Up to `length` bytes from the start of the object (for sniffing), or null when it does not exist. */
  readFirstBytes(key: string, length: number): Promise<Uint8Array | null>;
  /**
   * Size and up to `length` first bytes of an object in one request, or null when it does not exist.
   * Optional: a driver that can (S3: a ranged GET, whose Content-Range tells the size) saves commit a
   * round trip; without it commit asks `stat` and `readFirstBytes` at once.
   */
  readStart?(key: string, length: number): Promise<ObjectStart | null>;
  /**
   * Copies an object server-side (S3 CopyObject, Azure copy, filesystem hard link), never passing the
   * bytes through this process; replaces `to` if it exists. Throws when `from` is missing.
   * (NOTE to driver authors: this replaced an earlier `move`. Commit copies the temp object to its final
   * key inside the app's transaction and deletes the temp object only after that transaction commits,
   * so a rolled-back or retried save never loses the upload. For the filesystem: link `from` to a
   * unique temporary name beside `to`, then rename it over `to`, so no bytes are copied.)
   */
  copy(from: string, to: string, options?: CopyOptions): Promise<void>;
  /** Deletes an object; an object that is already gone is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Deletes several objects in as few calls as the service allows (S3: DeleteObjects, 1,000 keys a
   * call); keys already gone count as deleted. Resolves with the keys that could not be deleted, and
   * why. Optional: without it, callers (cleanup) call `delete` for each key.
   */
  deleteMany?(keys: readonly string[]): Promise<DeleteManyFailure[]>;
  /** A short-lived URL that downloads the object as an attachment with the given filename. */
  createDownloadUrl(request: DownloadUrlRequest, context: UrlContext): Promise<string>;
  /** Chunked uploads (parts sent in parallel, resumable), when the backend supports them. */
  readonly multipart?: MultipartCapability;
  /**
   * Streams bytes this server produces (an export) to a new object at `key`, replacing one that
   * exists, and resolves with the size stored. Never holds the whole body in memory (the S3 and Azure
   * drivers send bounded parts). A failed or aborted write, or a body that throws, leaves nothing
   * visible at `key` and rejects. Every built-in driver has it; optional so that an app's own driver
   * without it still type-checks (exports then refuse it with a readable error).
   */
  writeStream?(key: string, body: StreamBody, options: WriteStreamOptions): Promise<{ size: number }>;
}

/** One part to sign: its number and exact byte range in the file. */
export interface PartToSign {
  partNumber: number;
  offset: number;
  size: number;
}

/**
 * Chunked uploads on one backend (S3 multipart upload, Azure staged blocks, filesystem chunks). The
 * server plans the parts, checks the part list against `listParts` before `complete`, and keeps the
 * upload id in `async_temp_file.upload_id`; the driver only makes the provider calls. Like the rest
 * of the driver, methods throw with the driver's name for anything but "not found".
 */
export interface MultipartCapability {
  /** Smallest size of every part but the last that the backend accepts. */
  readonly minPartSize: number;
  /** Largest part the backend accepts. */
  readonly maxPartSize: number;
  /** Starts a chunked upload to `key`; returns the provider's upload id (or a staging id of the driver's own). */
  create(request: { key: string; contentType: string; size: number }): Promise<{ uploadId: string }>;
  /** URLs the browser PUTs each part to, valid until `expiresAt`; each pins the part's size where the backend can. */
  signParts(
    request: { key: string; uploadId: string; parts: readonly PartToSign[]; expiresAt: Date },
    context: UrlContext,
  ): Promise<PartTarget[]>;
  /** The parts the backend holds, by ascending number; null when the upload no longer exists (completed or aborted). */
  listParts(key: string, uploadId: string): Promise<StagedPart[] | null>;
  /** Assembles the listed parts, in this order, into the object at `key`. The caller has checked the list. */
  complete(request: { key: string; uploadId: string; contentType: string; size: number; parts: readonly StagedPart[] }): Promise<void>;
  /** Discards the staged parts; an upload that is already gone is not an error. */
  abort(key: string, uploadId: string): Promise<void>;
}
