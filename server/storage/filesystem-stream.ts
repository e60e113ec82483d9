import { randomBytes } from "node:crypto";
import { mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { StreamBody, WriteStreamOptions } from "./stream-parts.js";

/**
 * The filesystem driver's `writeStream`: the body is piped (with backpressure, so memory stays at a
 * stream buffer) into a uniquely named temporary file beside `path`, flushed to disk, then renamed
 * over `path`. Readers see the old file or the whole new one; a failure, an abort or a throwing body
 * removes the temporary file, so nothing appears. (Unlike `write`, which takes uploads and never
 * overwrites, this replaces: exports write to keys of their own.)
 */
export async function streamToFile(path: string, body: StreamBody, { signal }: WriteStreamOptions): Promise<{ size: number }> {
  signal?.throwIfAborted();
  const partial = `${path}.stream-${randomBytes(8).toString("hex")}`;
  const file = await openFresh(partial);
  try {
    const source = Readable.from(body as AsyncIterable<Uint8Array>, { objectMode: false });
    // `flush`: the bytes reach the disk (fsync) before the file closes, so before its name does: a crash
    // never leaves a short file under `path`. https://nodejs.org/api/fs.html#filehandlecreatewritestreamoptions
    const sink = file.createWriteStream({ flush: true });
    // https://nodejs.org/api/stream.html#streampipelinesource-transforms-destination-options (the signal destroys both ends)
    await pipeline(source, sink, signal ? { signal } : {});
    const { size } = await stat(partial);
    await rename(partial, path);
    return { size };
  } catch (error) {
    await file.close().catch(() => {});
    await unlink(partial).catch(() => {});
    throw signal?.aborted ? signal.reason : error;
  }
}

/** A new file for writing ("wx": never someone else's), its directory created; retried because a concurrent delete may prune that directory. */
async function openFresh(path: string) {
  for (let attempt = 1; ; attempt++) {
    await mkdir(dirname(path), { recursive: true });
    try {
      // https://nodejs.org/api/fs.html#fspromisesopenpath-flags-mode
      return await open(path, "wx");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || attempt === 3) throw error;
    }
  }
}
