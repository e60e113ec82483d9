import { HeadObjectCommand, type HeadObjectCommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { SourceChangedError } from "./source-changed.js";

/**
 * A copy pinned to the version of the source that was looked at (its ETag), on S3 and on S3-compatible
 * services that honour the precondition under another name or not at all.
 *
 * - S3 reads `x-amz-copy-source-if-match` (CopyObject, UploadPartCopy). Ceph's RADOS Gateway (16.2)
 *   ignores it and reads only its own `x-amz-copy-if-match`, on CopyObject only; both are sent, each
 *   service skips the one it does not know.
 * - A service may honour neither (RGW on UploadPartCopy). After the copy (before a multipart copy is
 *   completed), the source is looked at again: a different ETag or Last-Modified means it was written
 *   during the copy, and the copy is thrown away. (Written back with the same bytes within the same
 *   second cannot be seen; commit checks the copy's size and content itself as well.)
 */


/** Adds RGW's name of the copy precondition to a CopyObject or UploadPartCopy command. */
export function pinCopyToEtag<C extends { middlewareStack: { add: (...args: never[]) => unknown } }>(command: C, etag: string | undefined): C {
  if (!etag) return command;
  // The build step runs before signing, so the header is signed like the others.
  (command.middlewareStack as unknown as MiddlewareStack).add(
    (next) => (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers["x-amz-copy-if-match"] = etag;
      return next(args);
    },
    { step: "build", name: "copyIfMatchForRgw", override: true },
  );
  return command;
}

interface MiddlewareStack {
  add(
    middleware: (next: (args: { request: unknown }) => Promise<unknown>) => (args: { request: unknown }) => Promise<unknown>,
    options: { step: "build"; name: string; override: boolean },
  ): void;
}

/** A refused copy precondition (412) is a source that changed: the same error as the check below finds. */
export function sourceChangedIfRefused(error: unknown): unknown {
  if (!(error instanceof Error && error.name === "PreconditionFailed")) return error;
  return new SourceChangedError("the source object changed before it was copied", { cause: error });
}

/**
 * Throws `SourceChangedError` unless `key` is still the version `before` describes (same ETag and
 * Last-Modified), or is gone.
 */
export async function assertSourceUnchanged(client: S3Client, bucket: string, key: string, before: HeadObjectCommandOutput): Promise<void> {
  let now: HeadObjectCommandOutput | null;
  try {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
    now = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    if (!(error instanceof Error && (error.name === "NotFound" || error.name === "NoSuchKey"))) throw error;
    now = null;
  }
  const same = now !== null && now.ETag === before.ETag && now.LastModified?.getTime() === before.LastModified?.getTime();
  if (!same) throw new SourceChangedError(`the source object changed while it was copied (ETag ${before.ETag} → ${now?.ETag ?? "gone"})`);
}
