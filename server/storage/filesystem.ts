import { createHash, randomBytes } from "node:crypto";
import { link, mkdir, open, rename, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, isAbsolute, resolve, sep } from "node:path";
import { Readable } from "node:stream";
import { driverError } from "./driver-error.js";
import { filesystemDeleteMany } from "./filesystem-delete-many.js";
import { streamToFile } from "./filesystem-stream.js";
import { filesystemChunks, type FilesystemChunks } from "./filesystem-chunks.js";
import { FilesystemError, isCode } from "./filesystem-error.js";
import { writeNewFile } from "./filesystem-write.js";
import type { StorageDriver, UploadBody } from "./types.js";

export { FilesystemError, type FilesystemErrorKind } from "./filesystem-error.js";
export type { UploadBody } from "./types.js";

export interface FilesystemStorageOptions {
  /** Directory that holds every stored file; keys are paths below it. Created when missing. */
  root: string;
}

/** The filesystem driver also receives and serves the bytes, through the app's own `fs/` routes. */
export interface FilesystemStorage extends StorageDriver {
  readonly name: "filesystem";
  /** Absolute path of the root directory. */
  readonly root: string;
  /**
   * Streams an upload to `key`, exactly `size` bytes: more is refused while streaming (a
   * `FilesystemError` of kind `too_large`), fewer at the end (`too_short`), an existing key is never
   * overwritten (`already_exists`). Nothing is left behind on any failure, an aborted body included.
   */
  write(key: string, body: UploadBody, options: { size: number }): Promise<void>;
  /**
   * The file's bytes as a stream, its whole size and validators for conditional and range requests,
   * or null when it does not exist. `pickRange`, given the size and validators, may choose bytes
   * `start`…`end` (inclusive) to stream instead of the whole file. Size, validators and bytes all come
   * from one open file, so a key replaced meanwhile cannot mix two files. Cancel the body if unread.
   */
  read(key: string, pickRange?: (file: Omit<StoredFile, "body">) => { start: number; end: number } | null): Promise<StoredFile | null>;
  /** Chunked uploads, whose parts arrive through the app's `fs/upload-part` route. */
  readonly multipart: FilesystemChunks;
}

/** An open stored file, as `read` gives it. */
export interface StoredFile {
  body: ReadableStream<Uint8Array>;
  /** The whole file's size, whatever range is read. */
  size: number;
  /** Last modification (whole seconds are what HTTP dates hold). */
  modifiedAt: Date;
  /** A strong validator: a hash of inode, size and modification time, quoted (an ETag). A key replaced by another file gets another. */
  etag: string;
}

/**
 * Whether a field's driver receives and serves the bytes itself, through the app's `fs/` routes: it
 * has what those routes call. Checked by shape, not by name, so a driver the app wraps (a prototype
 * chain, a spread copy) still qualifies and one that merely calls itself "filesystem" does not.
 */
export function isFilesystemStorage(driver: StorageDriver | null | undefined): driver is FilesystemStorage {
  const candidate = driver as Partial<FilesystemStorage> | null | undefined;
  return typeof candidate?.write === "function" && typeof candidate.read === "function" && typeof candidate.multipart?.writePart === "function";
}

/** Stores uploads on the server's own disk; uploads and downloads go through signed app URLs. */
export function filesystemStorage({ root: rootOption }: FilesystemStorageOptions): FilesystemStorage {
  const root = resolve(rootOption);
  const fail = (operation: string, cause: unknown, subject: string) => driverError("filesystem", operation, cause, subject);

  /** Absolute path of a key; anything that could name a file outside `root` is refused. */
  function pathOf(key: string): string {
    const problem = keyProblem(key);
    const path = problem ? "" : resolve(root, key);
    if (problem || !path.startsWith(root + sep)) {
      throw new Error(`[filesystem] refused key ${JSON.stringify(key)}: ${problem ?? "it resolves outside the root"}`);
    }
    return path;
  }

  /** Removes the now-empty directories above a removed file, up to (not including) the root. */
  async function pruneEmptyParents(path: string): Promise<void> {
    for (let dir = dirname(path); dir.startsWith(root + sep); dir = dirname(dir)) {
      // Best effort: ENOTEMPTY (or a concurrent write recreating it) simply ends the walk.
      if (!(await rmdir(dir).then(() => true, () => false))) return;
    }
  }

  const storage: Omit<FilesystemStorage, "multipart"> = {
    name: "filesystem",
    root,

    async createUploadTarget({ key, contentType, size, expiresAt }, context) {
      pathOf(key);
      const url = context.localUrl({ purpose: "upload", key, size, contentType, expiresAt: expiresAt.getTime() });
      return { method: "PUT", url, headers: { "Content-Type": contentType } };
    },

    async write(key, body, { size }) {
      await writeNewFile(pathOf(key), key, body, size, pruneEmptyParents);
    },

    async writeStream(key, body, options) {
      const path = pathOf(key);
      try {
        return await streamToFile(path, body, options);
      } catch (error) {
        await pruneEmptyParents(path);
        if (options.signal?.aborted && error === options.signal.reason) throw error;
        throw fail("writeStream", error, `"${key}"`);
      }
    },

    async read(key, pickRange) {
      const path = pathOf(key);
      try {
        // https://nodejs.org/api/fs.html#filehandlecreatereadstreamoptions — size and bytes of one open file.
        const file = await open(path, "r");
        const info = await file.stat().catch(async (error: unknown) => {
          await file.close();
          throw error;
        });
        if (!info.isFile()) {
          await file.close();
          return null;
        }
        // Hashed, so a download does not show the server's inode numbers.
        const etag = `"${createHash("sha256").update(`${info.ino}-${info.size}-${info.mtimeMs}`).digest("base64url").slice(0, 22)}"`;
        const about = { size: info.size, modifiedAt: info.mtime, etag };
        const range = pickRange?.(about) ?? null;
        // https://nodejs.org/api/fs.html#filehandlecreatereadstreamoptions (`end` inclusive)
        const stream = file.createReadStream(range ? { start: range.start, end: range.end } : {});
        return { ...about, body: Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array> };
      } catch (error) {
        if (isNotFound(error)) return null;
        throw fail("read", error, `"${key}"`);
      }
    },

    async stat(key) {
      const path = pathOf(key);
      try {
        // https://nodejs.org/api/fs.html#fspromisesstatpath-options
        const info = await stat(path);
        return info.isFile() ? { size: info.size } : null;
      } catch (error) {
        if (isNotFound(error)) return null;
        throw fail("stat", error, `"${key}"`);
      }
    },

    async readFirstBytes(key, length) {
      const path = pathOf(key);
      try {
        // https://nodejs.org/api/fs.html#filehandlereadbuffer-offset-length-position
        const file = await open(path, "r");
        try {
          const buffer = Buffer.alloc(Math.max(0, length));
          const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
          return new Uint8Array(buffer.subarray(0, bytesRead));
        } finally {
          await file.close();
        }
      } catch (error) {
        if (isNotFound(error)) return null;
        throw fail("readFirstBytes", error, `"${key}"`);
      }
    },

    async copy(from, to) {
      const source = pathOf(from);
      const target = pathOf(to);
      const subject = `"${from}" to "${to}"`;
      // A hard link under a unique name, then renamed over the target: no bytes copied, and the
      // target is either the old file or the new one, never half of either.
      const temporary = `${target}.copy-${randomBytes(8).toString("hex")}`;
      for (let attempt = 1; ; attempt++) {
        try {
          await mkdir(dirname(target), { recursive: true });
          // https://nodejs.org/api/fs.html#fspromiseslinkexistingpath-newpath
          await link(source, temporary);
          // https://nodejs.org/api/fs.html#fspromisesrenameoldpath-newpath
          await rename(temporary, target);
          // When `to` already is a link to the same file (a retried commit after a crash), rename does
          // nothing and leaves `temporary` behind (POSIX rename(2)); otherwise it is gone already.
          await unlink(temporary).catch(() => {});
          return;
        } catch (error) {
          await unlink(temporary).catch(() => {});
          const sourceMissing = isNotFound(error) && !(await exists(source));
          if (sourceMissing) throw fail("copy", new Error("the source file does not exist", { cause: error }), subject);
          // ENOENT with the source present: a concurrent delete pruned the target's directory.
          if (!isCode(error, "ENOENT") || attempt === 3) throw fail("copy", error, subject);
        }
      }
    },

    async delete(key) {
      const path = pathOf(key);
      try {
        // https://nodejs.org/api/fs.html#fspromisesunlinkpath
        await unlink(path);
      } catch (error) {
        if (!isNotFound(error)) throw fail("delete", error, `"${key}"`);
      }
      await pruneEmptyParents(path);
    },

    deleteMany(keys) {
      // Each emptied directory removed once, not walked up to from every file (filesystem-delete-many.ts).
      return filesystemDeleteMany(root, pathOf, keys);
    },

    async createDownloadUrl({ key, filename, expiresAt }, context) {
      pathOf(key);
      return context.localUrl({ purpose: "download", key, filename, expiresAt: expiresAt.getTime() });
    },
  };
  return { ...storage, multipart: filesystemChunks({ pathOf, write: storage.write, pruneEmptyParents }) };
}

/** Why a key may not be used as a relative path, or null. Keys are made by the server, so any of these is a bug or an attack. */
function keyProblem(key: string): string | null {
  if (typeof key !== "string" || key === "") return "it is empty";
  if (key.includes("\0")) return "it contains a NUL character";
  if (key.includes("\\")) return "it contains a backslash";
  if (isAbsolute(key) || /^[a-z]:/i.test(key)) return "it is an absolute path";
  if (key.split("/").some((segment) => segment === ".." || segment === "." || segment === "")) {
    return "it contains an empty, . or .. segment";
  }
  return null;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: unknown) => (isNotFound(error) ? false : Promise.reject(error)),
  );
}

/** ENOTDIR: a path component is a file, so the key cannot name a file either. */
function isNotFound(error: unknown): boolean {
  return isCode(error, "ENOENT") || isCode(error, "ENOTDIR");
}
