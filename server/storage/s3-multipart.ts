import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  UploadPartCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { StagedPart } from "../../shared/multipart.js";
import { driverError, secondsUntil } from "./driver-error.js";
import type { MultipartCapability } from "./types.js";

/** S3's own limits: every part but the last at least 5 MiB, none over 5 GiB. */
export const S3_MIN_PART_SIZE = 5 * 1024 ** 2;
export const S3_MAX_PART_SIZE = 5 * 1024 ** 3;

/**
 * Browser uploads in parts with S3's multipart upload: the server creates the upload, presigns one
 * UploadPart URL per part (with its exact Content-Length signed, so S3 refuses any other body), lists
 * the parts S3 holds and completes the upload; the browser only PUTs part bodies.
 */
export function s3Multipart(client: S3Client, bucket: string, { minPartSize }: { minPartSize: number }): MultipartCapability {
  const fail = (operation: string, cause: unknown, key: string) => driverError("s3", operation, cause, `"${key}"`);

  return {
    minPartSize,
    maxPartSize: S3_MAX_PART_SIZE,

    async create({ key, contentType }) {
      try {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html
        const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType }));
        if (!UploadId) throw new Error("the response has no UploadId");
        return { uploadId: UploadId };
      } catch (error) {
        throw fail("creating a multipart upload", error, key);
      }
    },

    async signParts({ key, uploadId, parts, expiresAt }) {
      const expiresIn = secondsUntil(expiresAt);
      // A signed header, not a query parameter: S3 refuses a part body of any other length.
      const signed = new Set(["content-length"]);
      try {
        return await Promise.all(
          parts.map(async ({ partNumber, size }) => {
            // https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html
            const command = new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, ContentLength: size });
            const url = await getSignedUrl(client, command, { expiresIn, signableHeaders: signed, unhoistableHeaders: signed });
            return { partNumber, method: "PUT" as const, url, headers: {} };
          }),
        );
      } catch (error) {
        throw fail("signing part URLs", error, key);
      }
    },

    async listParts(key, uploadId) {
      const parts: StagedPart[] = [];
      let marker: string | undefined;
      try {
        for (;;) {
          // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListParts.html (1,000 parts per page)
          const page = await client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }));
          for (const part of page.Parts ?? []) {
            if (part.PartNumber === undefined || part.Size === undefined) continue;
            parts.push({ partNumber: part.PartNumber, size: part.Size, ...(part.ETag ? { etag: part.ETag } : {}) });
          }
          if (!page.IsTruncated || !page.NextPartNumberMarker) break;
          marker = page.NextPartNumberMarker;
        }
      } catch (error) {
        if (isNoSuchUpload(error)) return null;
        throw fail("listing parts", error, key);
      }
      return parts.sort((a, b) => a.partNumber - b.partNumber);
    },

    async complete({ key, uploadId, parts }) {
      try {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
        await client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag })) },
          }),
        );
      } catch (error) {
        throw fail("completing a multipart upload", error, key);
      }
    },

    async abort(key, uploadId) {
      try {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_AbortMultipartUpload.html
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
      } catch (error) {
        if (isNoSuchUpload(error)) return;
        throw fail("aborting a multipart upload", error, key);
      }
    },
  };
}

/**
 * The upload is gone (completed, aborted, or expired by a lifecycle rule). S3 says `NoSuchUpload`;
 * Ceph's RADOS Gateway says 404 `NoSuchKey` (its record of the upload is an object that is gone). A
 * missing bucket is `NoSuchBucket`, a configuration error that is still thrown.
 */
export function isNoSuchUpload(error: unknown): boolean {
  return error instanceof Error && (error.name === "NoSuchUpload" || error.name === "NoSuchKey");
}
