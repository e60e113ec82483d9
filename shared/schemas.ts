import { z } from "zod";
import { filenameProblem } from "./filename.js";
import { multipartKeyRequestSchema } from "./multipart-schemas.js";
import type { MultipartUploadUrlResponse } from "./multipart.js";
import type { UploadProcessingPlan } from "./processing.js";
import { MAX_UPLOAD_URL_BATCH } from "./upload-url-batch.js";

/** A MIME type without parameters, as browsers give it in `File.type`. */
export const CONTENT_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/i;

/** Instance ids end up in storage keys and URLs, so they are kept to a safe alphabet. */
export const INSTANCE_ID = /^[A-Za-z0-9_-]{1,100}$/;

/** Field ids are chosen by the app (`documents.attachment`). */
export const FIELD_ID = /^[A-Za-z0-9_.:-]{1,100}$/;

/** Body of `POST {base}/upload-url`. */
export const uploadUrlRequestSchema = z.strictObject({
  fieldId: z.string().regex(FIELD_ID, "fieldId must be 1–100 letters, digits or . _ : -"),
  filename: z.string().superRefine((name, ctx) => {
    const problem = filenameProblem(name);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }),
  contentType: z.string().regex(CONTENT_TYPE, "contentType must be a MIME type such as image/png, without parameters"),
  size: z
    .number()
    .int("size must be a whole number of bytes")
    .min(1, "size must be at least 1 byte (empty files are not accepted)")
    .max(Number.MAX_SAFE_INTEGER, "size is too large"),
  instanceId: z.string().regex(INSTANCE_ID, "instanceId must be 1–100 letters, digits, _ or -").optional(),
  /** The client can upload in parts (`shared/multipart.ts`); large files then get a `multipart` plan. */
  multipart: z.boolean().optional(),
});
export type UploadUrlRequest = z.infer<typeof uploadUrlRequestSchema>;

export { MAX_UPLOAD_URL_BATCH };

/** Batch body of `POST {base}/upload-url`: every file's request, answered all together or refused all together. */
export const uploadUrlBatchRequestSchema = z.strictObject({
  files: z
    .array(uploadUrlRequestSchema)
    .min(1, "files must list at least one file")
    .max(MAX_UPLOAD_URL_BATCH, `files may list at most ${MAX_UPLOAD_URL_BATCH} files; ask for the rest in another request`),
});
export type UploadUrlBatchRequest = z.infer<typeof uploadUrlBatchRequestSchema>;

/** How the browser sends the bytes: `PUT url` with `headers`, or multipart `POST url` with `fields` then `file`. */
export interface UploadTarget {
  method: "PUT" | "POST";
  url: string;
  headers: Record<string, string>;
  fields?: Record<string, string>;
}

/** Success body of `POST {base}/upload-url` (status 201). */
export interface UploadUrlResponse {
  key: string;
  upload: UploadTarget;
  /** ISO 8601 time after which the upload target no longer works. */
  expiresAt: string;
  /** Present when the field declares processing steps: what to subscribe to and which steps will run. */
  processing?: UploadProcessingPlan;
}

/** Success body of a batch `POST {base}/upload-url` (status 201): one answer per file, in the order asked. */
export interface UploadUrlBatchResponse {
  uploads: Array<UploadUrlResponse | MultipartUploadUrlResponse>;
}

/** One refused file of a batch, in the error body's `error.files`: its place in `files`, and why. */
export interface UploadUrlBatchRefusal {
  index: number;
  code: string;
  message: string;
}

/** Body of `POST {base}/process`: the key of an uploaded file whose processing should start (or start again). */
export const processRequestSchema = z.strictObject({ key: multipartKeyRequestSchema.shape.key });
