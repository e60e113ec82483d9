import type { ExportOutput } from "./types.js";

/** Bytes gathered before a chunk is handed on: small rows become chunks a storage upload handles well. */
const CHUNK_BYTES = 64 * 1024;
/** Bytes waiting for the reader before `write` waits too: what bounds an export's memory. */
const HIGH_WATER_BYTES = 1024 * 1024;

/**
 * The bridge between an export's `write` (which pushes) and the storage upload or HTTP response
 * (which pull): `output.write` resolves once its bytes are queued and the queue is under 1 MiB, so a
 * writer faster than the storage waits instead of filling memory. Strings are UTF-8 encoded and small
 * writes are gathered into 64 KiB chunks. Single reader.
 */
export class BytePipe implements AsyncIterable<Uint8Array> {
  readonly #encoder = new TextEncoder();
  readonly #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #gathering: Uint8Array[] = [];
  #gatheringBytes = 0;
  #ended = false;
  #failure: { error: unknown } | null = null;
  #wakeReader: (() => void) | null = null;
  #wakeWriter: (() => void) | null = null;

  /** What the export's `write` is given. */
  readonly output: ExportOutput = {
    write: (chunk) => this.#write(chunk),
  };

  async #write(chunk: string | Uint8Array): Promise<void> {
    if (this.#failure) throw this.#failure.error;
    if (this.#ended) throw new Error("[async-uploads] output.write() after the export's write() returned");
    const bytes = typeof chunk === "string" ? this.#encoder.encode(chunk) : chunk;
    if (!(bytes instanceof Uint8Array)) throw new TypeError("[async-uploads] output.write() takes a string or a Uint8Array");
    if (bytes.byteLength === 0) return;
    // A copy: the writer may reuse its buffer once write resolves.
    this.#gathering.push(typeof chunk === "string" ? bytes : bytes.slice());
    this.#gatheringBytes += bytes.byteLength;
    if (this.#gatheringBytes >= CHUNK_BYTES) this.#flush();
    while (this.#queuedBytes >= HIGH_WATER_BYTES && !this.#failure) {
      await new Promise<void>((resolve) => (this.#wakeWriter = resolve));
    }
    this.#throwIfFailed();
  }

  #throwIfFailed(): void {
    const failure = this.#failure as { error: unknown } | null;
    if (failure) throw failure.error;
  }

  #flush(): void {
    if (this.#gatheringBytes === 0) return;
    const joined = this.#gathering.length === 1 ? this.#gathering[0]! : concat(this.#gathering, this.#gatheringBytes);
    this.#gathering = [];
    this.#gatheringBytes = 0;
    this.#queue.push(joined);
    this.#queuedBytes += joined.byteLength;
    this.#wake();
  }

  #wake(): void {
    const reader = this.#wakeReader;
    this.#wakeReader = null;
    reader?.();
  }

  /** The writer finished: the reader gets what is left, then the end. */
  end(): void {
    if (this.#ended) return;
    this.#flush();
    this.#ended = true;
    this.#wake();
  }

  /** Stops both sides: the reader throws `error`, and so does the writer's next `write`. */
  fail(error: unknown): void {
    if (this.#failure) return;
    this.#failure = { error };
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    this.#wake();
    const writer = this.#wakeWriter;
    this.#wakeWriter = null;
    writer?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    try {
      for (;;) {
        if (this.#failure) throw this.#failure.error;
        const next = this.#queue.shift();
        if (next) {
          this.#queuedBytes -= next.byteLength;
          if (this.#queuedBytes < HIGH_WATER_BYTES) {
            const writer = this.#wakeWriter;
            this.#wakeWriter = null;
            writer?.();
          }
          yield next;
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((resolve) => (this.#wakeReader = resolve));
      }
    } finally {
      // The reader stopped early (the response was closed, the upload failed): the writer must not wait forever.
      if (!this.#ended || this.#queue.length > 0) this.fail(new Error("[async-uploads] the export's output was closed"));
    }
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const joined = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return joined;
}
