import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCopyCommand,
  type HeadObjectCommandOutput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { assertSourceUnchanged, pinCopyToEtag } from "./s3-copy-pin.js";

/** S3 limits: at most 10,000 parts of at most 5 GiB each (CopyObject itself stops at 5 GiB). */
const MAX_PARTS = 10_000;
const MAX_PART_SIZE = 5 * 1024 ** 3;
const PARALLEL_PART_COPIES = 4;

export interface MultipartCopyRequest {
  bucket: string;
  from: string;
  to: string;
  /** HeadObject of `from`: its type and metadata are carried over, its ETag (and Last-Modified) pin the bytes copied. */
  source: HeadObjectCommandOutput;
  size: number;
  partSize: number;
}

/**
 * Copies an object of any size server-side, in parts (CreateMultipartUpload, UploadPartCopy,
 * CompleteMultipartUpload), aborting the upload on failure. Throws the provider's error as is; the
 * driver wraps it.
 */
export async function multipartCopy(client: S3Client, { bucket, from, to, source, size, partSize }: MultipartCopyRequest): Promise<void> {
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html
  const { UploadId } = await client.send(
    new CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: to,
      ContentType: source.ContentType,
      ContentDisposition: source.ContentDisposition,
      Metadata: source.Metadata,
    }),
  );
  try {
    const ranges = copyPartRanges(size, partSize);
    const parts: { PartNumber: number; ETag: string | undefined }[] = [];
    for (let i = 0; i < ranges.length; i += PARALLEL_PART_COPIES) {
      const batch = ranges.slice(i, i + PARALLEL_PART_COPIES).map(async ({ partNumber, start, end }) => {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html
        const command = new UploadPartCopyCommand({
          Bucket: bucket,
          Key: to,
          UploadId,
          PartNumber: partNumber,
          CopySource: copySourceOf(bucket, from),
          CopySourceRange: `bytes=${start}-${end}`,
          CopySourceIfMatch: source.ETag,
        });
        const result = await client.send(pinCopyToEtag(command, source.ETag));
        return { PartNumber: partNumber, ETag: result.CopyPartResult?.ETag };
      });
      // Settled, not Promise.all: no part may still be running when the upload is aborted.
      for (const result of await Promise.allSettled(batch)) {
        if (result.status === "rejected") throw result.reason;
        parts.push(result.value);
      }
    }
    // Parts copied from two versions of a source written meanwhile would make an object that never
    // existed; checked before completing, so that such a copy is aborted (see s3-copy-pin.ts).
    await assertSourceUnchanged(client, bucket, from, source);
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
    await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: to, UploadId, MultipartUpload: { Parts: parts } }));
  } catch (error) {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_AbortMultipartUpload.html
    // Best effort: the copy's error is the one worth reporting, and a bucket lifecycle rule for
    // incomplete multipart uploads clears whatever an abort could not.
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: to, UploadId })).catch(() => {});
    throw error;
  }
}

/**
 * Inclusive byte ranges of a multipart copy, numbered from 1. The part size is raised when the object
 * would otherwise need more than 10,000 parts.
 */
export function copyPartRanges(size: number, partSize: number): { partNumber: number; start: number; end: number }[] {
  const effective = Math.min(MAX_PART_SIZE, Math.max(partSize, Math.ceil(size / MAX_PARTS)));
  const ranges = [];
  for (let start = 0, partNumber = 1; start < size; start += effective, partNumber++) {
    ranges.push({ partNumber, start, end: Math.min(size, start + effective) - 1 });
  }
  return ranges;
}

/** `x-amz-copy-source` is `bucket/key` with the key URL-encoded (slashes kept). */
export function copySourceOf(bucket: string, key: string): string {
  return `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
}
