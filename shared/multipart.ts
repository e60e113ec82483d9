/**
 * The wire contract of chunked ("multipart") uploads: large files sent in numbered parts, several at a
 * time, each retried on its own, and resumable after a reload. The browser asks `upload-url` with
 * `multipart: true`; for a file of at least the field's `multipartThreshold` the server answers with a
 * `multipart` plan instead of an `upload` target, and the browser then uses the routes below (all
 * under the same mount point, all JSON, all checked against the upload's principal):
 *
 * | route | request | success |
 * |---|---|---|
 * | `POST {base}/multipart/sign-parts` | `{key, partNumbers}` (≤ 100) | 200 `{parts: PartTarget[], expiresAt}` |
 * | `POST {base}/multipart/list-parts` | `{key}` | 200 `{parts: StagedPart[], partSize, partCount, expiresAt}` |
 * | `POST {base}/multipart/complete` | `{key, parts: [{partNumber, etag?}]}` | 200 `{key}` |
 * | `POST {base}/multipart/abort` | `{key}` | 204 |
 *
 * The request schemas are in `multipart-schemas.ts`, so that the browser bundle never pulls in zod.
 */

import type { UploadProcessingPlan } from "./processing.js";

/** S3's limit, and ours on every backend: no upload has more parts than this. */
export const MAX_PARTS = 10_000;
/** Most part URLs one `sign-parts` call returns. */
export const MAX_SIGN_PARTS_BATCH = 100;

/** How a large file is cut: parts of `partSize` bytes, the last one shorter; numbered 1…`partCount`. */
export interface MultipartPlan {
  /** The storage's upload id (S3) or the server's staging id (Azure, filesystem); informative. */
  uploadId: string;
  partSize: number;
  partCount: number;
}

/** Success body of `POST {base}/upload-url` (status 201) for a chunked upload. */
export interface MultipartUploadUrlResponse {
  key: string;
  multipart: MultipartPlan;
  /** ISO 8601 time after which the upload can be neither continued nor saved. */
  expiresAt: string;
  /** Present when the field declares processing steps (as in `UploadUrlResponse`). */
  processing?: UploadProcessingPlan;
}

/** Where the browser sends one part: `PUT url` with `headers` and exactly the part's bytes as the body. */
export interface PartTarget {
  partNumber: number;
  method: "PUT";
  url: string;
  headers: Record<string, string>;
}

/** Success body of `POST {base}/multipart/sign-parts`. */
export interface SignPartsResponse {
  parts: PartTarget[];
  /** ISO 8601 time after which these URLs no longer work (ask again: they are re-signed). */
  expiresAt: string;
}

/** A part the storage holds. `etag` is the storage's (S3); Azure and the filesystem have none. */
export interface StagedPart {
  partNumber: number;
  size: number;
  etag?: string;
}

/** Success body of `POST {base}/multipart/list-parts`: what a resumed upload need not send again. */
export interface ListPartsResponse {
  parts: StagedPart[];
  partSize: number;
  partCount: number;
  expiresAt: string;
}

/** Success body of `POST {base}/multipart/complete`: the key to put in the form, as for a single upload. */
export interface CompleteMultipartResponse {
  key: string;
}

/** Number of parts of a file of `size` bytes cut in parts of `partSize`. */
export function partCountOf(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize));
}

/** Byte range of part `partNumber` (1-based): `[offset, offset + size)`. */
export function partRange(partNumber: number, partSize: number, fileSize: number): { offset: number; size: number } {
  const offset = (partNumber - 1) * partSize;
  return { offset, size: Math.max(0, Math.min(partSize, fileSize - offset)) };
}
