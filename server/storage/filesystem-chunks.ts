import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, rename, rm, stat } from "node:fs/promises";
import { sep } from "node:path";
import type { StagedPart } from "../../shared/multipart.js";
import { driverError } from "./driver-error.js";
import { FilesystemError, isCode } from "./filesystem-error.js";
import type { MultipartCapability, UploadBody } from "./types.js";

/** What the chunks need from the filesystem driver they belong to. */
export interface FilesystemChunksDeps {
  /** Absolute path of a key below the driver's root; throws for a key that could name a file outside it. */
  pathOf(key: string): string;
  /** The driver's `write`: exactly `size` bytes to a new file at `key`, nothing left behind on failure. */
  write(key: string, body: UploadBody, options: { size: number }): Promise<void>;
  /** Removes the now-empty directories above a removed path, up to the driver's root. */
  pruneEmptyParents(path: string): Promise<void>;
}

/** The filesystem backend's chunked uploads, which also receive the parts (through the app's `fs/upload-part` route). */
export interface FilesystemChunks extends MultipartCapability {
  /**
   * Streams part `partNumber` of the upload at `key`, exactly `size` bytes (a `FilesystemError` of kind
   * `too_large` while streaming, `too_short` when shorter, `gone` when the upload's parts were removed
   * meanwhile); a part sent again replaces the earlier one, and an interrupted body leaves nothing behind.
   */
  writePart(key: string, partNumber: number, body: UploadBody, size: number): Promise<void>;
}

/** Parts of a chunked upload are staged as files beside the object's key: `{key}.parts/{partNumber}`. */
export const partsDirOf = (key: string) => `${key}.parts`;

/**
 * Chunked uploads to the server's own disk: each part is written like a whole upload (exact size,
 * nothing left on failure) under `{key}.parts/`, and `complete` streams the parts in order into the
 * object at `key`, then removes them. There is no service limit on part sizes; the field's plan and
 * the signed part tokens bound them.
 */
export function filesystemChunks({ pathOf, write, pruneEmptyParents }: FilesystemChunksDeps): FilesystemChunks {
  const fail = (operation: string, cause: unknown, key: string) => driverError("filesystem", operation, cause, `"${key}"`);

  async function removeParts(key: string): Promise<void> {
    const dir = pathOf(partsDirOf(key));
    // https://nodejs.org/api/fs.html#fspromisesrmpath-options
    await rm(dir, { recursive: true, force: true });
    // The now-empty directories above (the upload's own uuid directory, the day…), as `delete` does.
    await pruneEmptyParents(dir);
  }

  return {
    minPartSize: 1,
    maxPartSize: Number.MAX_SAFE_INTEGER,

    async create() {
      return { uploadId: randomBytes(16).toString("hex") };
    },

    async signParts({ key, uploadId, parts, expiresAt }, context) {
      pathOf(key);
      return parts.map(({ partNumber, offset, size }) => ({
        partNumber,
        method: "PUT" as const,
        url: context.localUrl({ purpose: "upload-part", key, uploadId, partNumber, offset, size, expiresAt: expiresAt.getTime() }),
        headers: {},
      }));
    },

    async writePart(key, partNumber, body, size) {
      const partKey = `${partsDirOf(key)}/${partNumber}`;
      // Written under a unique name, then renamed over the part: a retried part replaces the first
      // attempt atomically, and two attempts at once end with one whole part, never a mix.
      const stagingKey = `${partKey}.upload-${randomBytes(8).toString("hex")}`;
      await write(stagingKey, body, { size });
      try {
        // https://nodejs.org/api/fs.html#fspromisesrenameoldpath-newpath
        await rename(pathOf(stagingKey), pathOf(partKey));
      } catch (error) {
        await rm(pathOf(stagingKey), { force: true });
        // The parts directory went away with the staged part in it: `complete` or `abort` ran meanwhile.
        if (isCode(error, "ENOENT")) throw new FilesystemError("gone", "The upload no longer takes parts.", { cause: error });
        throw fail("writing a part", error, partKey);
      }
    },

    async listParts(key) {
      const dir = pathOf(partsDirOf(key));
      let names: string[];
      try {
        // https://nodejs.org/api/fs.html#fspromisesreaddirpath-options
        names = await readdir(dir);
      } catch (error) {
        if (isCode(error, "ENOENT")) return [];
        throw fail("listing parts", error, key);
      }
      const parts: StagedPart[] = [];
      for (const name of names) {
        // Only finished parts: a part still being written has a staging name.
        if (!/^[1-9]\d{0,4}$/.test(name)) continue;
        try {
          parts.push({ partNumber: Number(name), size: (await stat(`${dir}${sep}${name}`)).size });
        } catch (error) {
          // Replaced or removed while listing: the next listing sees the new state.
          if (!isCode(error, "ENOENT")) throw fail("listing parts", error, key);
        }
      }
      return parts.sort((a, b) => a.partNumber - b.partNumber);
    },

    async complete({ key, size, parts }) {
      const dir = pathOf(partsDirOf(key));
      async function* concatenated(): AsyncIterable<Uint8Array> {
        // https://nodejs.org/api/fs.html#fscreatereadstreampath-options — one part at a time, in order.
        for (const part of parts) yield* createReadStream(`${dir}${sep}${part.partNumber}`) as AsyncIterable<Uint8Array>;
      }
      try {
        await write(key, concatenated(), { size });
      } catch (error) {
        // The caller checked the part list, so a refusal here means the parts changed under us.
        if (error instanceof FilesystemError) throw fail("assembling the parts", error, key);
        throw error;
      }
      await removeParts(key);
    },

    async abort(key) {
      try {
        await removeParts(key);
      } catch (error) {
        throw fail("removing the parts", error, key);
      }
    },
  };
}
