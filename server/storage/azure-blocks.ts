import { RestError, type BlockBlobClient } from "@azure/storage-blob";
import type { StagedPart } from "../../shared/multipart.js";
import { driverError } from "./driver-error.js";
import type { MultipartCapability } from "./types.js";

/** Azure's limits: a block holds at most 4000 MiB (service version 2019-12-12 and later); there is no minimum. */
export const AZURE_MAX_BLOCK_SIZE = 4000 * 1024 ** 2;

export interface AzureBlocksDeps {
  blob(key: string): BlockBlobClient;
  /** The blob's URL with a SAS limited to this blob, these permissions and this expiry. */
  sasUrl(key: string, permissions: string, expiresOn: Date): string;
}

/**
 * Browser uploads in parts with Azure's staged blocks: the browser PUTs each part as a block (Put
 * Block, with a SAS for this one blob allowing writes, valid for a short time), the server lists the
 * uncommitted blocks and commits the block list. Block ids are derived from part numbers, so no state
 * beyond the blob name is needed; Azure itself discards uncommitted blocks after 7 days.
 */
export function azureBlocks({ blob, sasUrl }: AzureBlocksDeps): MultipartCapability {
  const fail = (operation: string, cause: unknown, key: string) => driverError("azure", operation, cause, `"${key}"`);

  /** Uncommitted blocks that are ours (named by `blockIdOf`); none when the blob has never had one. */
  async function stagedBlocks(key: string, operation: string): Promise<StagedPart[]> {
    try {
      // https://learn.microsoft.com/en-us/rest/api/storageservices/get-block-list
      const list = await blob(key).getBlockList("uncommitted");
      const parts: StagedPart[] = [];
      for (const block of list.uncommittedBlocks ?? []) {
        const partNumber = partNumberOf(block.name);
        if (partNumber !== null) parts.push({ partNumber, size: block.size });
      }
      return parts.sort((a, b) => a.partNumber - b.partNumber);
    } catch (error) {
      // A blob that has neither committed nor uncommitted blocks does not exist at all.
      if (error instanceof RestError && error.statusCode === 404 && errorCodeOf(error) === "BlobNotFound") return [];
      throw fail(operation, error, key);
    }
  }

  return {
    minPartSize: 1,
    maxPartSize: AZURE_MAX_BLOCK_SIZE,

    async create() {
      // Nothing to create: blocks are staged against the blob name. The id only tells uploads apart.
      return { uploadId: crypto.randomUUID() };
    },

    async signParts({ key, parts, expiresAt }) {
      try {
        // One SAS for the whole batch: write (sp=w) on this blob only, expiring with the batch.
        // Azure cannot pin a block's size in a SAS; `complete` checks every size before committing.
        const base = sasUrl(key, "w", expiresAt);
        // https://learn.microsoft.com/en-us/rest/api/storageservices/put-block
        return parts.map(({ partNumber }) => ({
          partNumber,
          method: "PUT" as const,
          url: `${base}&comp=block&blockid=${encodeURIComponent(blockIdOf(partNumber))}`,
          headers: {},
        }));
      } catch (error) {
        throw fail("signing block URLs", error, key);
      }
    },

    listParts: (key) => stagedBlocks(key, "listing blocks"),

    async complete({ key, contentType, parts }) {
      try {
        // https://learn.microsoft.com/en-us/rest/api/storageservices/put-block-list
        await blob(key).commitBlockList(
          parts.map((part) => blockIdOf(part.partNumber)),
          { blobHTTPHeaders: { blobContentType: contentType } },
        );
      } catch (error) {
        throw fail("committing the block list", error, key);
      }
    },

    async abort(key) {
      if ((await stagedBlocks(key, "aborting a block upload")).length === 0) return;
      try {
        // Committing an empty list discards every uncommitted block ("blocks not specified in the
        // block list are permanently deleted"); the empty blob it leaves is deleted right after.
        await blob(key).commitBlockList([]);
        // https://learn.microsoft.com/en-us/rest/api/storageservices/delete-blob
        await blob(key).deleteIfExists({ deleteSnapshots: "include" });
      } catch (error) {
        throw fail("aborting a block upload", error, key);
      }
    },
  };
}

/** Block ids must all have the same length within a blob: `part-00001` … `part-10000`, base64. */
export function blockIdOf(partNumber: number): string {
  return Buffer.from(`part-${String(partNumber).padStart(5, "0")}`).toString("base64");
}

function partNumberOf(blockId: string): number | null {
  const match = /^part-(\d{5})$/.exec(Buffer.from(blockId, "base64").toString("utf8"));
  return match ? Number(match[1]) : null;
}

function errorCodeOf(error: RestError): string | undefined {
  return (error.details as { errorCode?: string } | undefined)?.errorCode ?? error.code;
}
