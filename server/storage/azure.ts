import {
  BlobSASPermissions,
  BlobServiceClient,
  RestError,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  type BlobGetPropertiesResponse,
  type BlockBlobClient,
  type ContainerClient,
} from "@azure/storage-blob";
import type { Readable } from "node:stream";
import { azureBlocks } from "./azure-blocks.js";
import { azureDeleteMany } from "./azure-delete-many.js";
import { streamToAzure } from "./azure-stream.js";
import { contentDisposition } from "./content-disposition.js";
import { driverError } from "./driver-error.js";
import type { StorageDriver } from "./types.js";

const MiB = 1024 ** 2;
/** How long the service may read the source of a copy; an async copy of a large blob takes a while. */
const COPY_SOURCE_SAS_LIFETIME_MS = { sync: 10 * 60_000, async: 6 * 60 * 60_000 };

interface AzureCommonOptions {
  /**
   * Blobs larger than this are copied with an asynchronous Copy Blob that is polled until done;
   * smaller ones with the synchronous Copy Blob From URL, which the service limits to 256 MiB.
   * @default 256 MiB
   */
  asyncCopyThreshold?: number;
}

export interface AzureConnectionStringOptions extends AzureCommonOptions {
  /** A connection string with an `AccountKey` (the key signs the SAS URLs). */
  connectionString: string;
  /** Container that holds both the temporary uploads and the final blobs. */
  container: string;
}

export interface AzureContainerClientOptions extends AzureCommonOptions {
  /** The container that holds both the temporary uploads and the final blobs. */
  containerClient: ContainerClient;
  /** The account's shared key, which signs the SAS URLs. */
  credential: StorageSharedKeyCredential;
}

export type AzureStorageOptions = AzureConnectionStringOptions | AzureContainerClientOptions;

/** Stores uploads in an Azure Blob Storage container; the browser PUTs to a create-only blob SAS URL. */
export function azureStorage(options: AzureStorageOptions): StorageDriver {
  const { asyncCopyThreshold = 256 * MiB } = options;
  const { container, credential } = connect(options);
  const fail = (operation: string, cause: unknown, subject: string) => driverError("azure", operation, cause, subject);
  const blob = (key: string): BlockBlobClient => container.getBlockBlobClient(key);

  /** The blob's URL with a SAS limited to this blob, these permissions and this expiry. */
  function sasUrl(key: string, permissions: string, expiresOn: Date, headers: { contentDisposition?: string; contentType?: string } = {}) {
    // https://learn.microsoft.com/en-us/rest/api/storageservices/create-service-sas
    const sas = generateBlobSASQueryParameters(
      { containerName: container.containerName, blobName: key, permissions: BlobSASPermissions.parse(permissions), expiresOn, ...headers },
      credential,
    );
    return `${blob(key).url}?${sas.toString()}`;
  }

  async function properties(key: string, operation: string): Promise<BlobGetPropertiesResponse | null> {
    try {
      // https://learn.microsoft.com/en-us/rest/api/storageservices/get-blob-properties
      return await blob(key).getProperties();
    } catch (error) {
      if (isBlobNotFound(error)) return null;
      throw fail(operation, error, `"${key}"`);
    }
  }

  return {
    name: "azure",

    async createUploadTarget({ key, contentType, expiresAt }) {
      try {
        // Create only (sp=c): the URL can write this blob once, never overwrite it. Azure cannot pin
        // the size in a SAS, so commit checks it.
        const url = sasUrl(key, "c", expiresAt);
        // https://learn.microsoft.com/en-us/rest/api/storageservices/put-blob
        return { method: "PUT", url, headers: { "x-ms-blob-type": "BlockBlob", "Content-Type": contentType } };
      } catch (error) {
        throw fail("creating an upload URL", error, `"${key}"`);
      }
    },

    async stat(key) {
      const result = await properties(key, "stat");
      if (!result) return null;
      return { size: result.contentLength ?? 0, ...(result.contentType ? { contentType: result.contentType } : {}) };
    },

    async readFirstBytes(key, length) {
      if (length <= 0) return (await properties(key, "readFirstBytes")) ? new Uint8Array(0) : null;
      try {
        // https://learn.microsoft.com/en-us/rest/api/storageservices/get-blob (x-ms-range)
        const response = await blob(key).download(0, length);
        const bytes = await readAll(response.readableStreamBody);
        return bytes.subarray(0, length);
      } catch (error) {
        if (isBlobNotFound(error)) return null;
        // A range cannot be satisfied only by an empty blob.
        if (error instanceof RestError && error.statusCode === 416) return new Uint8Array(0);
        throw fail("readFirstBytes", error, `"${key}"`);
      }
    },

    async copy(from, to, options) {
      const subject = `"${from}" to "${to}"`;
      // A caller that checks the copy itself gives the size (see CopyOptions): no look at the source
      // first. A blob larger than the synchronous copy allows is refused by the service; a missing one
      // is BlobNotFound.
      const source = options?.expectedSize === undefined ? await properties(from, "copy") : null;
      if (options?.expectedSize === undefined && !source) throw fail("copy", new Error("the source blob does not exist"), subject);
      const size = options?.expectedSize ?? source?.contentLength ?? 0;
      const sync = size <= asyncCopyThreshold;
      const lifetime = sync ? COPY_SOURCE_SAS_LIFETIME_MS.sync : COPY_SOURCE_SAS_LIFETIME_MS.async;
      const sourceUrl = sasUrl(from, "r", new Date(Date.now() + lifetime));
      // The same bytes that were measured, not a blob written in between.
      const sourceConditions = source?.etag ? { ifMatch: source.etag } : undefined;
      try {
        if (sync) {
          // https://learn.microsoft.com/en-us/rest/api/storageservices/copy-blob-from-url
          await blob(to).syncCopyFromURL(sourceUrl, { sourceConditions });
          return;
        }
        // https://learn.microsoft.com/en-us/rest/api/storageservices/copy-blob
        const poller = await blob(to).beginCopyFromURL(sourceUrl, { sourceConditions, intervalInMs: 1000 });
        const result = await poller.pollUntilDone();
        if (result.copyStatus !== "success") {
          throw new Error(`the copy ended with status "${result.copyStatus ?? "unknown"}"`);
        }
      } catch (error) {
        throw fail("copy", error, subject);
      }
    },

    async delete(key) {
      try {
        // https://learn.microsoft.com/en-us/rest/api/storageservices/delete-blob
        await blob(key).deleteIfExists({ deleteSnapshots: "include" });
      } catch (error) {
        throw fail("delete", error, `"${key}"`);
      }
    },

    deleteMany: (keys) => azureDeleteMany(container, keys, (error) => fail("deleteMany", error, `${keys.length} keys`).message),

    async writeStream(key, body, options) {
      try {
        return await streamToAzure(blob(key), body, options);
      } catch (error) {
        if (options.signal?.aborted && error === options.signal.reason) throw error;
        throw fail("writeStream", error, `"${key}"`);
      }
    },

    async createDownloadUrl({ key, filename, contentType, expiresAt }) {
      try {
        // Read only (sp=r), with the response headers fixed by the signature (rscd, rsct).
        return sasUrl(key, "r", expiresAt, { contentDisposition: contentDisposition(filename), contentType });
      } catch (error) {
        throw fail("creating a download URL", error, `"${key}"`);
      }
    },

    multipart: azureBlocks({ blob, sasUrl }),
  };
}

function connect(options: AzureStorageOptions): { container: ContainerClient; credential: StorageSharedKeyCredential } {
  if ("containerClient" in options) return { container: options.containerClient, credential: options.credential };
  const service = BlobServiceClient.fromConnectionString(options.connectionString);
  if (!(service.credential instanceof StorageSharedKeyCredential)) {
    throw new Error("[azure] the connection string needs an AccountKey: it signs the upload and download URLs");
  }
  return { container: service.getContainerClient(options.container), credential: service.credential };
}

/** 404 for the blob itself; a missing container is a configuration error and is thrown. */
function isBlobNotFound(error: unknown): boolean {
  if (!(error instanceof RestError) || error.statusCode !== 404) return false;
  // HEAD responses have no body: the code is only in the `x-ms-error-code` header, which the SDK
  // puts in `details.errorCode` (and not in `code`).
  const details = error.details as { errorCode?: string } | undefined;
  return (details?.errorCode ?? error.code) !== "ContainerNotFound";
}

async function readAll(stream: NodeJS.ReadableStream | undefined): Promise<Uint8Array> {
  if (!stream) return new Uint8Array(0);
  const chunks: Buffer[] = [];
  for await (const chunk of stream as Readable) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}
