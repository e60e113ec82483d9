/** One Server-Sent Event as a test reads it; `comment` for a line starting with ":" (the heartbeat). */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
  comment?: string;
}

/**
 * Reads an SSE response body event by event, as EventSource would parse it (enough of it for our
 * stream: `event`, `data`, `id` and comment lines). `next()` waits at most `timeoutMs` and throws after.
 */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = "";
  /** A read that outlived a timeout: the next call takes its chunk instead of losing it. */
  #pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  async next(timeoutMs = 5000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.#buffer.indexOf("\n\n");
      if (end !== -1) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        return parseBlock(block);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event within ${timeoutMs} ms (buffer: ${JSON.stringify(this.#buffer)})`);
      let timer: NodeJS.Timeout | undefined;
      const read = (this.#pending ??= this.#reader.read());
      const chunk = await Promise.race([
        read,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), left);
        }),
      ]).finally(() => clearTimeout(timer));
      this.#pending = undefined;
      if (chunk.done) throw new Error("the stream ended");
      this.#buffer += this.#decoder.decode(chunk.value, { stream: true });
    }
  }

  /** The next event that is not a comment. */
  async nextEvent(timeoutMs = 5000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = await this.next(Math.max(1, deadline - Date.now()));
      if (event.comment === undefined) return event;
    }
  }

  /** The parsed `data` of the next event, which must be named `name`. */
  async expect<T = unknown>(name: string, timeoutMs = 5000): Promise<T> {
    const event = await this.nextEvent(timeoutMs);
    if (event.event !== name) throw new Error(`expected event "${name}", got "${event.event}": ${event.data}`);
    return JSON.parse(event.data) as T;
  }

  /** Resolves true when the stream ends (the server closed it) within `timeoutMs`. */
  async ended(timeoutMs = 5000): Promise<boolean> {
    try {
      for (;;) await this.next(timeoutMs);
    } catch (error) {
      return (error as Error).message === "the stream ended";
    }
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

function parseBlock(block: string): SseEvent {
  const result: SseEvent = { event: "message", data: "" };
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) result.comment = line.slice(1).trim();
    else if (line.startsWith("event: ")) result.event = line.slice(7);
    else if (line.startsWith("data: ")) data.push(line.slice(6));
    else if (line.startsWith("id: ")) result.id = line.slice(4);
  }
  result.data = data.join("\n");
  return result;
}
