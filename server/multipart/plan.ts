import { formatBytes } from "../../shared/format-bytes.js";
import { MAX_PARTS, partCountOf, type MultipartPlan } from "../../shared/multipart.js";
import type { AsyncTempFile } from "../db/schema.js";
import { AsyncUploadsError } from "../errors.js";
import type { Field } from "../registry.js";
import type { MultipartCapability } from "../storage/types.js";

/**
 * A chunked upload that is open (parts staged, not yet assembled): the storage's upload id and the
 * part size the browser was given, kept in the row's `upload_id` and `part_size`. Both are cleared
 * when the server completes the upload (`MULTIPART_ASSEMBLED`).
 */
export interface MultipartState {
  uploadId: string;
  partSize: number;
}

/** The row's open chunked upload, or null (a single upload, or one the server already assembled). */
export function multipartStateOf(row: Pick<AsyncTempFile, "uploadId" | "partSize">): MultipartState | null {
  return row.uploadId === null || row.partSize === null ? null : { uploadId: row.uploadId, partSize: row.partSize };
}

/** The columns of a row whose chunked upload the server assembled: no parts left to take. */
export const MULTIPART_ASSEMBLED = { uploadId: null, partSize: null } as const satisfies Partial<AsyncTempFile>;

/** Chunked when the browser can do it, the file reaches the field's threshold and the storage supports it. */
export function wantsMultipart(field: Field, request: { size: number; multipart?: boolean }): boolean {
  return request.multipart === true && request.size >= field.multipartThreshold && field.storage.multipart !== undefined;
}

/**
 * The part size of a file: the field's `partSize`, raised to the storage's minimum and so that no
 * file needs more than 10,000 parts (then rounded up to whole MiB).
 */
export function partSizeFor(size: number, preferred: number, capability: Pick<MultipartCapability, "minPartSize" | "maxPartSize">): number {
  let partSize = Math.max(preferred, capability.minPartSize);
  if (partCountOf(size, partSize) > MAX_PARTS) partSize = Math.ceil(size / MAX_PARTS / 2 ** 20) * 2 ** 20;
  if (partSize > capability.maxPartSize) {
    throw new AsyncUploadsError("file_too_large", `The file is larger than this storage can take in ${MAX_PARTS} parts of ${formatBytes(capability.maxPartSize)}.`);
  }
  return partSize;
}

/** Starts a chunked upload at the storage; returns the plan for the browser and the state for the row. */
export async function startMultipartUpload(
  field: Field,
  request: { key: string; contentType: string; size: number },
): Promise<{ plan: MultipartPlan; state: MultipartState }> {
  const capability = field.storage.multipart!;
  const partSize = partSizeFor(request.size, field.partSize, capability);
  const { uploadId } = await capability.create(request);
  return {
    plan: { uploadId, partSize, partCount: partCountOf(request.size, partSize) },
    state: { uploadId, partSize },
  };
}
