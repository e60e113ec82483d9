import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from "@aws-sdk/client-s3";
import { partsOf, type StreamBody, type WriteStreamOptions } from "./stream-parts.js";

/**
 * Part size of streamed writes: S3's minimum, 5 MiB. The SDK and the socket hold copies of a part
 * while it is sent (measured on RGW: about three 8 MiB parts live at the peak), so the smallest part
 * keeps a write near 20 MiB. S3 allows 10,000 parts: a streamed object may hold up to 48.8 GiB.
 */
export const S3_STREAM_PART_SIZE = 5 * 1024 ** 2;
const MAX_PARTS = 10_000;

/**
 * The S3 driver's `writeStream`. A body that fits in one part is one PutObject. A larger one is a
 * multipart upload of `partSize` parts (5 MiB: S3 refuses less but for the last), sent one at a
 * time, so the memory of a write is a few parts whatever the size; the
 * object appears only at CompleteMultipartUpload. Any failure, an abort or a throwing body aborts the
 * multipart upload, so the staged parts go and nothing is visible. Throws the provider's error as is
 * (the driver wraps it).
 */
export async function streamToS3(
  client: S3Client,
  bucket: string,
  key: string,
  body: StreamBody,
  { contentType, signal }: WriteStreamOptions,
  partSize = S3_STREAM_PART_SIZE,
): Promise<{ size: number }> {
  const abortSignal = signal;
  const parts = partsOf(body, partSize, signal);
  const first = await parts.next();
  const firstPart = first.done ? new Uint8Array(0) : first.value;
  if (firstPart.byteLength < partSize) {
    await parts.return(undefined);
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: firstPart, ContentType: contentType, ContentLength: firstPart.byteLength }), { abortSignal });
    return { size: firstPart.byteLength };
  }

  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType }), { abortSignal });
  if (!UploadId) throw new Error("CreateMultipartUpload answered without an UploadId");
  const completed: CompletedPart[] = [];
  let size = 0;
  try {
    let part: Uint8Array | undefined = firstPart;
    for (let partNumber = 1; part; partNumber++) {
      if (partNumber > MAX_PARTS) throw new Error(`the stream is longer than S3's ${MAX_PARTS} parts of ${partSize} bytes`);
      size += part.byteLength;
      // One part at a time: the SDK copies a part's bytes while it sends them (measured: three parts
      // live with one filling while another was sent), so sending while the next fills would pass 30 MiB.
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html
      const { ETag } = await client.send(
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: partNumber, Body: part, ContentLength: part.byteLength }),
        { abortSignal },
      );
      completed.push({ PartNumber: partNumber, ETag });
      const next = await parts.next();
      part = next.done ? undefined : next.value;
    }
    signal?.throwIfAborted();
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
    await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: completed } }), { abortSignal });
    return { size };
  } catch (error) {
    await parts.return(undefined).catch(() => {});
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_AbortMultipartUpload.html — without the signal, which may be the reason we are here.
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => {});
    throw signal?.aborted ? signal.reason : error;
  }
}
