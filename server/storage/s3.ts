import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type HeadObjectCommandOutput,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { createPresignedPost } from "./s3-presigned-post.js";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { UploadTarget } from "../../shared/schemas.js";
import { contentDisposition } from "./content-disposition.js";
import { driverError, secondsUntil } from "./driver-error.js";
import { S3_MIN_PART_SIZE, s3Multipart } from "./s3-multipart.js";
import { assertSourceUnchanged, pinCopyToEtag, sourceChangedIfRefused } from "./s3-copy-pin.js";
import { copySourceOf, multipartCopy } from "./s3-multipart-copy.js";
import { readStart } from "./s3-read-start.js";
import { isS3Error } from "./s3-error-name.js";
import { streamToS3 } from "./s3-stream.js";
import { s3DeleteMany } from "./s3-delete-many.js";
import type { StorageDriver } from "./types.js";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export interface S3StorageOptions {
  /** Bucket that holds both the temporary uploads and the final objects. */
  bucket: string;
  /**
   * A configured client to use; when given, `region`, `endpoint`, `forcePathStyle` and `credentials`
   * are ignored (and checksum settings are the client's own: use `"WHEN_REQUIRED"` for S3-compatible services).
   * @default a client built from the options below
   */
  client?: S3Client;
  /** Region of the bucket. @default the SDK's default (`AWS_REGION`, shared config) */
  region?: string;
  /** Endpoint of an S3-compatible service (MinIO, R2, s3rver…). @default AWS S3 */
  endpoint?: string;
  /** Address buckets as `endpoint/bucket` rather than `bucket.endpoint`. @default false */
  forcePathStyle?: boolean;
  /** Access key pair or provider. @default the SDK's default credential chain (env, shared config, IAM role) */
  credentials?: S3ClientConfig["credentials"];
  /**
   * How browsers upload: a presigned POST whose policy pins key, type and exact size (the service
   * enforces it), or a presigned PUT with signed Content-Length and Content-Type (the service refuses
   * any other). Both are equally strict.
   * @default "POST" for files under 8 MiB, "PUT" from 8 MiB (see PUT_FROM)
   */
  uploadMethod?: "POST" | "PUT";
  /** Objects larger than this are copied in parts; at most 5 GiB, where CopyObject stops. @default 5 GiB */
  multipartCopyThreshold?: number;
  /** Part size of a multipart copy, at least 5 MiB; raised when an object would need more than 10,000 parts. @default 512 MiB */
  copyPartSize?: number;
  /**
   * Smallest part (but the last) of a browser's chunked upload. S3 refuses less than 5 MiB; lower it
   * only for S3-compatible services or emulators that accept smaller parts (tests). @default 5 MiB
   */
  minPartSize?: number;
}

/**
 * From this size the browser uploads with a PUT unless `uploadMethod` says otherwise. A POST is a
 * simple request (no CORS preflight), which matters for many small files; a PUT costs the service
 * less, since it parses no form: one 100 MiB request to Ceph RGW took 3,145 ms as a PUT against
 * 4,224 ms as a POST (radosgw CPU 0.41-0.57 s against 0.83-0.92 s; issue 16's bench notes), and the
 * element with PUT uploaded 100 MiB in 0.77-0.85x Uppy's time where POST took 1.18-1.20x. From
 * 8 MiB one preflight round trip is small beside the upload itself.
 */
const PUT_FROM = 8 * MiB;

/** Stores uploads in an S3 bucket (or any S3-compatible service); the browser talks to S3 directly. */
export function s3Storage(options: S3StorageOptions): StorageDriver {
  const { bucket, uploadMethod, multipartCopyThreshold = 5 * GiB, copyPartSize = 512 * MiB, minPartSize = S3_MIN_PART_SIZE } = options;
  if (!Number.isSafeInteger(minPartSize) || minPartSize < 1) throw new Error("[s3] minPartSize must be a positive whole number of bytes");
  if (uploadMethod !== undefined && uploadMethod !== "POST" && uploadMethod !== "PUT") {
    throw new Error(`[s3] uploadMethod must be "POST" or "PUT" (or left out: POST under 8 MiB, PUT from 8 MiB), not ${JSON.stringify(uploadMethod)}`);
  }
  const client =
    options.client ??
    new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      // Newer SDKs add CRC32 checksums to every request, which presigned browser uploads cannot
      // carry and many S3-compatible services reject.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  const fail = (operation: string, cause: unknown, subject: string) => driverError("s3", operation, cause, subject);

  async function head(key: string, operation: string): Promise<HeadObjectCommandOutput | null> {
    try {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
      return await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      if (isS3Error(error, "NotFound", "NoSuchKey")) return confirmMissing(key, operation);
      throw fail(operation, error, `"${key}"`);
    }
  }

  /**
   * A HEAD 404 has no body, so it cannot say whether the key or the bucket is missing; a one-byte
   * GET can, and a missing bucket is a configuration error, not "not found". (Without s3:ListBucket,
   * S3 answers 403 for a missing key, which is rightly thrown: grant it.)
   */
  async function confirmMissing(key: string, operation: string): Promise<null> {
    try {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
      const result = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: "bytes=0-0" }));
      await result.Body?.transformToByteArray();
      return null; // created in the meantime: still missing as far as the HEAD is concerned
    } catch (error) {
      if (isS3Error(error, "NoSuchKey", "InvalidRange")) return null;
      throw fail(operation, error, `"${key}"`);
    }
  }

  return {
    name: "s3",

    async createUploadTarget({ key, contentType, size, expiresAt }): Promise<UploadTarget> {
      const expiresIn = secondsUntil(expiresAt);
      try {
        if ((uploadMethod ?? (size >= PUT_FROM ? "PUT" : "POST")) === "PUT") {
          // https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
          const command = new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: contentType, ContentLength: size });
          // Signed headers (not query parameters), so S3 refuses a body of another length or type.
          const signed = new Set(["content-length", "content-type"]);
          const url = await getSignedUrl(client, command, { expiresIn, signableHeaders: signed, unhoistableHeaders: signed });
          // The browser sets Content-Length itself (it is the body's length) and may not set it by hand.
          return { method: "PUT", url, headers: { "Content-Type": contentType } };
        }
        // createPresignedPost would turn a key ending in "${filename}" into a prefix condition.
        if (key.endsWith("${filename}")) throw new Error('a key may not end in "${filename}"');
        // https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html
        const { url, fields } = await createPresignedPost(client, {
          Bucket: bucket,
          Key: key,
          Expires: expiresIn,
          Fields: { "Content-Type": contentType },
          Conditions: [
            ["eq", "$Content-Type", contentType],
            ["content-length-range", size, size],
          ],
        });
        return { method: "POST", url, headers: {}, fields };
      } catch (error) {
        throw fail("creating an upload URL", error, `"${key}"`);
      }
    },

    async stat(key) {
      const result = await head(key, "stat");
      if (!result) return null;
      return { size: result.ContentLength ?? 0, ...(result.ContentType ? { contentType: result.ContentType } : {}) };
    },

    async readFirstBytes(key, length) {
      if (length <= 0) return (await head(key, "readFirstBytes")) ? new Uint8Array(0) : null;
      try {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
        const result = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${length - 1}` }));
        const bytes = (await result.Body?.transformToByteArray()) ?? new Uint8Array(0);
        return bytes.subarray(0, length);
      } catch (error) {
        if (isS3Error(error, "NoSuchKey", "NotFound")) return null;
        // A range cannot be satisfied only by an empty object.
        if (isS3Error(error, "InvalidRange")) return new Uint8Array(0);
        throw fail("readFirstBytes", error, `"${key}"`);
      }
    },

    readStart: (key, length) =>
      readStart(
        client,
        bucket,
        key,
        length,
        async () => {
          const result = await head(key, "readStart");
          return result ? (result.ContentLength ?? 0) : null;
        },
        (error) => fail("readStart", error, `"${key}"`),
      ),

    async copy(from, to, options) {
      const subject = `"${from}" to "${to}"`;
      const expectedSize = options?.expectedSize;
      if (expectedSize !== undefined && expectedSize <= multipartCopyThreshold) {
        // The caller checks the copy itself (commit does: see CopyOptions), so the look at the source
        // before and after (the ETag pin and its re-check) would only guard what that check guards.
        // A source larger than CopyObject allows is refused by S3; a missing one is NoSuchKey.
        try {
          // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
          await client.send(new CopyObjectCommand({ Bucket: bucket, Key: to, CopySource: copySourceOf(bucket, from) }));
          return;
        } catch (error) {
          throw fail("copy", error, subject);
        }
      }
      const source = await head(from, "copy");
      if (!source) throw fail("copy", new Error("the source object does not exist"), subject);
      const size = source.ContentLength ?? 0;
      try {
        if (size > multipartCopyThreshold) return await multipartCopy(client, { bucket, from, to, source, size, partSize: copyPartSize });
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
        const command = new CopyObjectCommand({ Bucket: bucket, Key: to, CopySource: copySourceOf(bucket, from), CopySourceIfMatch: source.ETag });
        await client.send(pinCopyToEtag(command, source.ETag));
        // For a service that honours no copy precondition (see s3-copy-pin.ts): a copy of a source
        // written meanwhile may hold bytes nobody looked at, so it goes.
        await assertSourceUnchanged(client, bucket, from, source).catch(async (error: unknown) => {
          await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: to }));
          throw error;
        });
      } catch (error) {
        throw fail("copy", sourceChangedIfRefused(error), subject);
      }
    },

    async delete(key) {
      try {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html (204 for a missing key too)
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (error) {
        if (isS3Error(error, "NoSuchKey", "NotFound")) return;
        throw fail("delete", error, `"${key}"`);
      }
    },

    deleteMany: (keys) => s3DeleteMany(client, bucket, keys, (error) => fail("deleteMany", error, `${keys.length} keys`).message),

    async writeStream(key, body, options) {
      try {
        return await streamToS3(client, bucket, key, body, options);
      } catch (error) {
        if (options.signal?.aborted && error === options.signal.reason) throw error;
        throw fail("writeStream", error, `"${key}"`);
      }
    },

    async createDownloadUrl({ key, filename, contentType, expiresAt }) {
      try {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (response-* overrides)
        const command = new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          ResponseContentDisposition: contentDisposition(filename),
          ...(contentType ? { ResponseContentType: contentType } : {}),
        });
        return await getSignedUrl(client, command, { expiresIn: secondsUntil(expiresAt) });
      } catch (error) {
        throw fail("creating a download URL", error, `"${key}"`);
      }
    },

    multipart: s3Multipart(client, bucket, { minPartSize }),
  };
}
