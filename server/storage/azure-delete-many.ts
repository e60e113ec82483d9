import type { ContainerClient } from "@azure/storage-blob";
import type { DeleteManyFailure } from "./types.js";

/** https://learn.microsoft.com/en-us/rest/api/storageservices/blob-batch: at most 256 operations a batch. */
export const AZURE_BATCH_MAX = 256;

/**
 * Deletes `keys` with Blob Batch requests of 256 deletes each (in turn, not at once). A blob already
 * gone (404) counts as deleted, as with `deleteIfExists`; a batch that fails as a whole fails each of
 * its keys with the same reason.
 */
export async function azureDeleteMany(container: ContainerClient, keys: readonly string[], describe: (error: unknown) => string): Promise<DeleteManyFailure[]> {
  const failures: DeleteManyFailure[] = [];
  const batches = container.getBlobBatchClient();
  for (let start = 0; start < keys.length; start += AZURE_BATCH_MAX) {
    const chunk = keys.slice(start, start + AZURE_BATCH_MAX);
    try {
      const response = await batches.deleteBlobs(chunk.map((key) => container.getBlobClient(key)), { deleteSnapshots: "include" });
      // Sub-responses come in the order of the operations (their Content-ID).
      response.subResponses.forEach((sub, i) => {
        if (sub.status < 300 || sub.status === 404) return;
        const key = chunk[i] ?? "";
        failures.push({ key, reason: `[azure] deleteMany "${key}": ${sub.status} ${sub.errorCode ?? sub.statusMessage}` });
      });
    } catch (error) {
      const reason = describe(error);
      for (const key of chunk) failures.push({ key, reason });
    }
  }
  return failures;
}
