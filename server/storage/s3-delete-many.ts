import { DeleteObjectsCommand, type S3Client } from "@aws-sdk/client-s3";
import type { DeleteManyFailure } from "./types.js";

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html: at most 1,000 keys a request. */
export const S3_DELETE_OBJECTS_MAX = 1000;

/**
 * Deletes `keys` with DeleteObjects, 1,000 keys a request (requests in turn, not at once, so that a
 * large cleanup does not flood the service). Quiet mode: S3 answers only the keys it could not delete;
 * a missing key counts as deleted, as with DeleteObject. A request that fails as a whole fails each of
 * its keys with the same reason.
 */
export async function s3DeleteMany(client: S3Client, bucket: string, keys: readonly string[], describe: (error: unknown) => string): Promise<DeleteManyFailure[]> {
  const failures: DeleteManyFailure[] = [];
  for (let start = 0; start < keys.length; start += S3_DELETE_OBJECTS_MAX) {
    const chunk = keys.slice(start, start + S3_DELETE_OBJECTS_MAX);
    try {
      const result = await client.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true } }),
      );
      for (const error of result.Errors ?? []) {
        if (error.Code === "NoSuchKey") continue;
        failures.push({ key: error.Key ?? "", reason: `[s3] deleteMany "${error.Key}": ${error.Code ?? "error"} ${error.Message ?? ""}`.trim() });
      }
    } catch (error) {
      const reason = describe(error);
      for (const key of chunk) failures.push({ key, reason });
    }
  }
  return failures;
}
