import { z } from "zod";
import { MAX_PARTS, MAX_SIGN_PARTS_BATCH } from "./multipart.js";

/** Request bodies of the chunked-upload routes (`multipart.ts`), validated by the server. */

// Keys are made by the server; NUL and lone surrogates (which the database refuses) are never one.
const KEY = z
  .string()
  .min(1, "key is required")
  .max(1024, "key is too long")
  .refine((key) => !/\u0000|\p{Cs}/u.test(key), "key is not an upload key");
const PART_NUMBER = z
  .number()
  .int("part numbers are whole numbers")
  .min(1, "part numbers start at 1")
  .max(MAX_PARTS, `part numbers end at ${MAX_PARTS}`);

/** Body of `POST {base}/multipart/sign-parts`. */
export const signPartsRequestSchema = z.strictObject({
  key: KEY,
  partNumbers: z
    .array(PART_NUMBER)
    .min(1, "ask for at least one part")
    .max(MAX_SIGN_PARTS_BATCH, `ask for at most ${MAX_SIGN_PARTS_BATCH} parts at a time`)
    .refine((numbers) => new Set(numbers).size === numbers.length, "a part number is listed twice"),
});
export type SignPartsRequest = z.infer<typeof signPartsRequestSchema>;

/** Body of `POST {base}/multipart/list-parts` and `POST {base}/multipart/abort`. */
export const multipartKeyRequestSchema = z.strictObject({ key: KEY });
export type MultipartKeyRequest = z.infer<typeof multipartKeyRequestSchema>;

/** Body of `POST {base}/multipart/complete`: every part, in ascending order, with the ETag storage answered (S3). */
export const completeMultipartRequestSchema = z.strictObject({
  key: KEY,
  parts: z
    .array(z.strictObject({ partNumber: PART_NUMBER, etag: z.string().min(1).max(200).optional() }))
    .min(1, "list at least one part")
    .max(MAX_PARTS, `an upload has at most ${MAX_PARTS} parts`),
});
export type CompleteMultipartRequest = z.infer<typeof completeMultipartRequestSchema>;
