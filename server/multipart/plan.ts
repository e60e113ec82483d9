import { formatBytes } from "../../shared/format-bytes.js";
import { MAX_PARTS, partCountOf, type MultipartPlan } from "../../shared/multipart.js";
import { AsyncUploadsError } from "../errors.js";
import type { Field } from "../registry.js";
import type { MultipartCapability } from "../storage/types.js";

/**
 * What `async_temp_file.upload_id` holds while a chunked upload is open: the storage's upload id and
 * the part size the browser was given (JSON). It is cleared when the server completes the upload, so
 * "upload_id is set" means "parts staged, not yet assembled": commit refuses such a row and cleanup
 * aborts it.
 */
export interface MultipartState {
  uploadId: string;
  partSize: number;
}

export function encodeMultipartState(state: MultipartState): string {
  return JSON.stringify({ uploadId: state.uploadId, partSize: state.partSize });
}

/** The state of a row's `upload_id`; throws on a value this code did not write. */
export function decodeMultipartState(value: string): MultipartState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  const state = parsed as Partial<MultipartState> | undefined;
  if (typeof state?.uploadId !== "string" || state.uploadId === "" || !Number.isSafeInteger(state.partSize) || state.partSize! < 1) {
    throw new Error(`[async-uploads] upload_id ${JSON.stringify(value.slice(0, 80))} is not a chunked upload's state`);
  }
  return { uploadId: state.uploadId, partSize: state.partSize! };
}

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
): Promise<{ plan: MultipartPlan; state: string }> {
  const capability = field.storage.multipart!;
  const partSize = partSizeFor(request.size, field.partSize, capability);
  const { uploadId } = await capability.create(request);
  return {
    plan: { uploadId, partSize, partCount: partCountOf(request.size, partSize) },
    state: encodeMultipartState({ uploadId, partSize }),
  };
}
