import { randomBytes } from "node:crypto";
import { writev } from "node:fs";
import { link, mkdir, open, stat, unlink, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { driverError } from "./driver-error.js";
import { FilesystemError, isCode } from "./filesystem-error.js";
import type { UploadBody } from "./types.js";

/** Bodies whose chunks no one else holds (see `releaseChunksOnceWritten`). */
const ownedChunks = new WeakSet<Readable>();

/**
 * Marks a body whose chunks are each the whole of their own memory and held by no one else once they
 * are written: a request body taken from Node (its HTTP parser copies each chunk into a new buffer).
 * The file sink then frees each chunk's memory as soon as it is on disk, rather than leaving it to
 * the garbage collector.
 *
 * Why: V8 counts those buffers (external memory) towards the old generation's limit until a full
 * collection; while the app allocates too little to trigger young collections, the received bytes
 * alone make V8 run a full mark-compact about every 8-10 MiB of a large upload (`--trace-gc-nvp`,
 * `--trace-incremental-marking`), and each one marks the app's whole heap. Freed here, they no longer
 * count.
 */
export function releaseChunksOnceWritten(body: Readable): Readable {
  ownedChunks.add(body);
  return body;
}

/**
 * The filesystem driver's `write`: exactly `size` bytes of `body` to a new file at `path` (`key` names
 * it in errors). More is refused while streaming (`too_large`), fewer at the end (`too_short`), an
 * existing file is never overwritten (`already_exists`); on any failure nothing is left behind and
 * `pruneEmptyParents` removes the directories made for it.
 *
 * The bytes go to a uniquely named file opened exclusively beside `path`, which is then hard-linked
 * to `path` (EEXIST rather than overwrite) and unlinked. No fsync: an upload is a temporary file until
 * it is saved, and a crash before then loses nothing anyone was promised.
 */
export async function writeNewFile(
  path: string,
  key: string,
  body: UploadBody,
  size: number,
  pruneEmptyParents: (path: string) => Promise<void>,
): Promise<void> {
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`[filesystem] write: invalid size ${size}`);
  const partial = `${path}.partial-${randomBytes(8).toString("hex")}`;
  // A Node stream as is (the fs route's request body): Readable.from would iterate it, a promise per chunk.
  const source = body instanceof Readable ? body : Readable.from(body as AsyncIterable<Uint8Array> | Iterable<Uint8Array>, { objectMode: false });
  let file: FileHandle | undefined;
  try {
    // Fail fast rather than after receiving the whole body; the link below is what guarantees it.
    if (await exists(path)) throw alreadyExists();
    file = await openExclusive(partial);
    const sink = new ExactSizeFileSink(file.fd, size, ownedChunks.has(source));
    // https://nodejs.org/api/stream.html#streampipelinesource-transforms-destination-options
    await pipeline(source, sink);
    if (sink.received < size) {
      throw new FilesystemError("too_short", `The file is shorter than declared: ${sink.received} of ${size} bytes arrived.`);
    }
    await file.close();
    file = undefined;
    // https://nodejs.org/api/fs.html#fspromiseslinkexistingpath-newpath — EEXIST instead of overwriting.
    await link(partial, path);
  } catch (error) {
    source.destroy();
    await file?.close().catch(() => {});
    await unlink(partial).catch(() => {});
    await pruneEmptyParents(path);
    if (isCode(error, "EEXIST")) throw alreadyExists();
    if (error instanceof FilesystemError) throw error;
    throw driverError("filesystem", "write", error, `"${key}"`);
  }
  await unlink(partial);
}

/**
 * Writes what it is given to an open file, counting: a chunk that would take the file past `size` is
 * refused as it is offered (before it is queued, let alone written). One stream instead of a counting
 * Transform in front of `FileHandle.createWriteStream` (whose writes each go through a promise): a
 * 1 GiB upload arrives in about 16,000 chunks, and each stage costs a few calls and objects per chunk.
 * Like `fs.WriteStream`, chunks that queue up while a write is in flight go out in one `writev`, and
 * a destroy waits for the write in flight: only then does `pipeline` settle and the caller close the
 * file (closing it under a pending write could let the write land in another file given its number).
 */
class ExactSizeFileSink extends Writable {
  received = 0;
  /** Set while a write is in flight: what to do when it ends (finish a destroy that waited for it). */
  #writing: (() => void) | null = null;

  constructor(
    private readonly fd: number,
    private readonly size: number,
    /** Free each chunk's memory once written (`releaseChunksOnceWritten`). */
    private readonly release: boolean,
  ) {
    super();
  }

  override write(chunk: Uint8Array | string, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean {
    this.received += typeof chunk === "string" ? Buffer.byteLength(chunk, typeof encoding === "string" ? encoding : "utf8") : chunk.byteLength;
    if (this.received > this.size) {
      this.destroy(new FilesystemError("too_large", `The file is larger than the declared ${this.size} bytes.`));
      return false;
    }
    return super.write(chunk, encoding as BufferEncoding, callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    this.#writeAll([chunk], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: WriteCallback): void {
    this.#writeAll(
      chunks.map(({ chunk }) => chunk),
      callback,
    );
  }

  override _destroy(error: Error | null, callback: WriteCallback): void {
    if (this.#writing) this.#writing = () => callback(error);
    else callback(error);
  }

  #writeAll(buffers: Buffer[], callback: WriteCallback): void {
    this.#writing = () => {};
    writeFully(this.fd, buffers, (error) => {
      if (!error && this.release) for (const buffer of buffers) releaseMemory(buffer);
      const then = this.#writing;
      this.#writing = null;
      callback(error);
      then?.();
    });
  }
}

type WriteCallback = (error?: Error | null) => void;

/**
 * Frees a written chunk's memory now, by detaching its ArrayBuffer (`transfer(0)`: V8 drops the
 * backing store and its external-memory count at once; https://tc39.es/ecma262/#sec-arraybuffer.prototype.transfer).
 * Only a chunk that is the whole of a plain ArrayBuffer: a slice of a pool or of a larger buffer shares
 * its memory with bytes that are not ours.
 */
function releaseMemory(chunk: Buffer): void {
  const memory = chunk.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer; resizable?: boolean; detached?: boolean };
  if (chunk.byteOffset !== 0 || chunk.byteLength !== memory.byteLength || !(memory instanceof ArrayBuffer)) return;
  if (typeof memory.transfer !== "function" || memory.resizable || memory.detached) return;
  try {
    memory.transfer(0);
  } catch {
    // Not detachable (a buffer Node marked untransferable): the garbage collector frees it, as before.
  }
}

/** `writev` until every byte is written: a regular file may take fewer (a full disk reports itself on the next call). */
function writeFully(fd: number, buffers: Buffer[], callback: (error?: Error | null) => void): void {
  // https://nodejs.org/api/fs.html#fswritevfd-buffers-position-callback (no position: the file's own, sequential)
  writev(fd, buffers, (error, written) => {
    if (error) return callback(error);
    const rest: Buffer[] = [];
    for (const buffer of buffers) {
      if (written >= buffer.length) {
        written -= buffer.length;
      } else {
        rest.push(buffer.subarray(written));
        written = 0;
      }
    }
    if (rest.length === 0) return callback(null);
    writeFully(fd, rest, callback);
  });
}

/** Opens a new file for writing, creating its directory; retried because a concurrent delete may prune it. */
async function openExclusive(path: string): Promise<FileHandle> {
  for (let attempt = 1; ; attempt++) {
    await mkdir(dirname(path), { recursive: true });
    try {
      // https://nodejs.org/api/fs.html#fspromisesopenpath-flags-mode ("wx": never someone else's file)
      return await open(path, "wx");
    } catch (error) {
      if (!isCode(error, "ENOENT") || attempt === 3) throw error;
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: unknown) => (isCode(error, "ENOENT") || isCode(error, "ENOTDIR") ? false : Promise.reject(error)),
  );
}

function alreadyExists(): FilesystemError {
  return new FilesystemError("already_exists", "A file is already stored under this name; it is never overwritten.");
}
