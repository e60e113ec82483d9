/** What `writeStream` takes: a web stream (a `fetch` body, `Readable.toWeb`) or any async iterable of bytes (a Node stream). */
export type StreamBody = AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

/** Options of `StorageDriver.writeStream`. */
export interface WriteStreamOptions {
  /** Stored with the object where the service keeps one. */
  contentType: string;
  /** Aborting it stops the write; nothing becomes visible. */
  signal?: AbortSignal;
}

/**
 * The bytes of `body` cut into parts of exactly `partSize` bytes (the last one shorter, possibly
 * empty only when the body is empty). Each part is a fresh buffer (the previous one may still be in
 * flight); at most one part is held here at a time. Stops with the signal's reason once it aborts.
 */
export async function* partsOf(body: StreamBody, partSize: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  let part = Buffer.allocUnsafe(partSize);
  let filled = 0;
  let emitted = false;
  signal?.throwIfAborted();
  // ReadableStream is async iterable in Node; a Node Readable yields Buffers.
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    signal?.throwIfAborted();
    if (!(chunk instanceof Uint8Array)) throw new TypeError("writeStream: the body yielded something other than bytes");
    let offset = 0;
    while (offset < chunk.byteLength) {
      const taken = Math.min(partSize - filled, chunk.byteLength - offset);
      part.set(chunk.subarray(offset, offset + taken), filled);
      filled += taken;
      offset += taken;
      if (filled === partSize) {
        emitted = true;
        yield part;
        signal?.throwIfAborted();
        part = Buffer.allocUnsafe(partSize);
        filled = 0;
      }
    }
  }
  signal?.throwIfAborted();
  if (filled > 0 || !emitted) yield part.subarray(0, filled);
}
