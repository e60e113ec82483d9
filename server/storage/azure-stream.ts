import { randomBytes } from "node:crypto";
import type { BlockBlobClient } from "@azure/storage-blob";
import { partsOf, type StreamBody, type WriteStreamOptions } from "./stream-parts.js";

/**
 * Block size of streamed writes: Azure has no minimum, and the SDK keeps a copy of a block while it
 * is sent (measured: three 8 MiB blocks live at once), so smaller blocks keep a write near 12 MiB.
 * 50,000 blocks of 4 MiB allow 195 GiB.
 */
export const AZURE_STREAM_BLOCK_SIZE = 4 * 1024 ** 2;

/**
 * The Azure driver's `writeStream`: each `partSize` part (4 MiB) is staged as an uncommitted block (Put
 * Block, one uploading while the next fills, so a write holds about two parts), and the blob appears
 * only when the block list is committed. On a failure, an abort or a throwing body the blocks are
 * never committed: they are invisible, and the uncommitted blocks are discarded (an empty list
 * committed with If-None-Match: *, so an existing blob is never touched, then that empty blob
 * deleted); Azure itself drops uncommitted blocks after 7 days if even that fails. Block ids carry a
 * random prefix of this write, so two writes to one key never mix blocks. Throws the provider's error as is.
 */
export async function streamToAzure(
  blob: BlockBlobClient,
  body: StreamBody,
  { contentType, signal }: WriteStreamOptions,
  partSize = AZURE_STREAM_BLOCK_SIZE,
): Promise<{ size: number }> {
  const abortSignal = signal;
  const writeId = randomBytes(6).toString("hex");
  const ids: string[] = [];
  let size = 0;
  let inFlight: Promise<unknown> | null = null;
  const parts = partsOf(body, partSize, signal);
  try {
    for await (const part of parts) {
      // Every id of a blob has the same length: `s-<12 hex>-<000001>`, base64.
      const id = Buffer.from(`s-${writeId}-${String(ids.length + 1).padStart(6, "0")}`).toString("base64");
      ids.push(id);
      size += part.byteLength;
      if (inFlight) await inFlight;
      // https://learn.microsoft.com/en-us/rest/api/storageservices/put-block
      inFlight = blob.stageBlock(id, part, part.byteLength, { abortSignal });
      inFlight.catch(() => {});
    }
    if (inFlight) await inFlight;
    signal?.throwIfAborted();
    // https://learn.microsoft.com/en-us/rest/api/storageservices/put-block-list
    await blob.commitBlockList(ids, { blobHTTPHeaders: { blobContentType: contentType }, abortSignal });
    return { size };
  } catch (error) {
    await inFlight?.catch(() => {});
    await discardUncommitted(blob);
    throw signal?.aborted ? signal.reason : error;
  }
}

/** Best effort: the blocks of a failed write are invisible anyway, and expire with the service's 7-day rule. */
async function discardUncommitted(blob: BlockBlobClient): Promise<void> {
  try {
    await blob.commitBlockList([], { conditions: { ifNoneMatch: "*" } });
    await blob.deleteIfExists();
  } catch {
    // A blob already there (committed by someone else): its uncommitted blocks expire by themselves.
  }
}
