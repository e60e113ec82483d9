import type { ErrorBody } from "./errors.js";
import type {
  CompleteMultipartResponse,
  ListPartsResponse,
  MultipartPlan,
  MultipartUploadUrlResponse,
  PartTarget,
  SignPartsResponse,
  StagedPart,
} from "./multipart.js";
import type { ProcessingState, UploadProcessingPlan } from "./processing.js";
import type { UploadTarget, UploadUrlBatchResponse, UploadUrlResponse } from "./schemas.js";

/**
 * Checks of the success bodies the server sends, for the browser, beside the types the server builds
 * them from (`schemas.ts`, `multipart.ts`). Requests are validated with zod on the server; responses
 * are checked here by hand because zod must stay out of the browser bundle: zod/mini for these five
 * shapes alone is 6.6 KiB gzip, against a budget of 12 KiB for the whole element with Lit.
 *
 * Each guard lists one check per property of its type (`Checks<T>`), so a property added to a
 * response type without a check here is a compile error. Unknown extra properties are accepted: a
 * newer server may send more.
 */

type Check = (value: unknown) => boolean;
/** One check for every property of `T`, optional ones included. */
type Checks<T> = { [K in keyof T]-?: Check };

/** A guard for `T`: an object whose properties each pass their check. */
function objectOf<T>(checks: Checks<T>): (value: unknown) => value is T {
  const entries = Object.entries(checks as Record<string, Check>);
  return (value: unknown): value is T => isRecord(value) && entries.every(([name, check]) => check(value[name]));
}

/** A plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const isString: Check = (value) => typeof value === "string";
const isKey: Check = (value) => typeof value === "string" && value !== "";
const isCount: Check = (value) => Number.isSafeInteger(value) && (value as number) > 0;
const isTime: Check = (value) => typeof value === "string" && !Number.isNaN(Date.parse(value));
const optional = (check: Check): Check => (value) => value === undefined || check(value);
const arrayOf = (check: Check): Check => (value) => Array.isArray(value) && value.every(check);
const isStringRecord: Check = (value) => isRecord(value) && Object.values(value).every(isString);

/** An http(s) URL, absolute or relative to the page: never `javascript:` or `data:`. */
const isHttpUrl: Check = (value) => {
  if (typeof value !== "string") return false;
  try {
    return /^https?:$/.test(new URL(value, globalThis.document?.baseURI ?? "http://localhost/").protocol);
  } catch {
    return false;
  }
};

const isUploadTarget = objectOf<UploadTarget>({
  method: (value) => value === "PUT" || value === "POST",
  url: isHttpUrl,
  // Required by the type and always sent; the client has always accepted a target without (`?? {}`).
  headers: optional(isStringRecord),
  fields: optional(isStringRecord),
});

const isNullableString: Check = (value) => value === null || typeof value === "string";
const isStepLabel = objectOf<{ name: string; label: string }>({ name: isString, label: isString });

/** The `processing` part of `upload-url`'s 201 body, for a field with processing steps. */
export const isUploadProcessingPlan = objectOf<UploadProcessingPlan>({
  fileId: isKey,
  topicToken: isKey,
  steps: arrayOf(isStepLabel),
});

/** `process`' 202 body and the data of event `processing` on `upload:<fileId>`. */
export const isProcessingState = objectOf<ProcessingState>({
  fileId: isKey,
  state: (value) => ["queued", "running", "passed", "rejected", "failed"].includes(value as string),
  step: isNullableString,
  label: isNullableString,
  reason: isNullableString,
  version: (value) => Number.isSafeInteger(value) && (value as number) >= 0,
});

/** `upload-url`'s 201 body for a single request: the key and where to send the bytes. */
export const isUploadUrlResponse = objectOf<UploadUrlResponse>({
  key: isKey,
  upload: isUploadTarget,
  expiresAt: isString,
  processing: optional(isUploadProcessingPlan),
});

/** A chunked upload's plan. */
export const isMultipartPlan = objectOf<MultipartPlan>({ uploadId: isString, partSize: isCount, partCount: isCount });

/** `upload-url`'s 201 body for a chunked upload: the key and how to cut the file. */
export const isMultipartUploadUrlResponse = objectOf<MultipartUploadUrlResponse>({
  key: isKey,
  multipart: isMultipartPlan,
  expiresAt: isString,
  processing: optional(isUploadProcessingPlan),
});

/** `upload-url`'s 201 body for a batch: one answer (single or chunked) per file asked for. */
export const isUploadUrlBatchResponse = objectOf<UploadUrlBatchResponse>({
  uploads: arrayOf((value): value is UploadUrlResponse | MultipartUploadUrlResponse => isUploadUrlResponse(value) || isMultipartUploadUrlResponse(value)),
});

const isPartTarget = objectOf<PartTarget>({ partNumber: isCount, method: (value) => value === "PUT", url: isHttpUrl, headers: isStringRecord });

/** `multipart/sign-parts`' 200 body. */
export const isSignPartsResponse = objectOf<SignPartsResponse>({ parts: arrayOf(isPartTarget), expiresAt: isTime });

const isStagedPart = objectOf<StagedPart>({
  partNumber: isCount,
  size: (value) => Number.isSafeInteger(value) && (value as number) >= 0,
  etag: optional(isString),
});

/** `multipart/list-parts`' 200 body. */
export const isListPartsResponse = objectOf<ListPartsResponse>({
  parts: arrayOf(isStagedPart),
  partSize: isCount,
  partCount: isCount,
  expiresAt: isString,
});

/** `multipart/complete`'s 200 body. */
export const isCompleteMultipartResponse = objectOf<CompleteMultipartResponse>({ key: isKey });

/**
 * Any error response of ours, `{"error": {"code", "message"}}`. The code is only checked to be a
 * string: a newer server may answer with one this client does not know.
 */
export const isErrorBody = objectOf<ErrorBody>({
  error: objectOf<ErrorBody["error"]>({ code: isString, message: optional(isString) }),
});
