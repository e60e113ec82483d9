import type { MiddlewareHandler } from "hono";

/**
 * How much of a request body the routes read and drop after answering without it (a refusal before
 * the body was read, or part-way through it), so that the connection stays usable. Above this, or
 * when the rest does not arrive within `DRAIN_MAX_MS`, the answer says `Connection: close` instead.
 */
export const DRAIN_MAX_BYTES = 1024 * 1024;
/** How long the routes wait for the rest of a body they will not use, before closing instead. */
export const DRAIN_MAX_MS = 2000;

/**
 * Every answer leaves the connection in a known state. A keep-alive connection is only reusable once
 * the request's whole body was read: the next request starts where it ends. When a route answers
 * without reading it (a refusal by origin, type, size, token…), the server adapter would drain or
 * drop the connection afterwards on its own terms (Node's @hono/node-server waits 500 ms, then
 * destroys the socket of an answer that said keep-alive; the client's next request meets "other side
 * closed"). So the rest is read here before the answer goes out, when it is small and arrives soon;
 * otherwise the answer carries `Connection: close`, and the client knows not to send more on it.
 *
 * The body is handed on through a stream of our own whose `cancel` does not cancel the request's:
 * a driver that stops reading a body it refuses would otherwise tear the connection down before the
 * refusal is written.
 */
export const settleRequestBody: MiddlewareHandler = async function settleRequestBody(c, next) {
  const original = c.req.raw;
  if (!original.body) {
    await next();
    // A GET or HEAD that declares a body: Fetch gives the routes no way to read it, so the connection
    // could only be reused if the server happened to skip exactly those bytes.
    if (declaresBody(original.headers)) c.header("Connection", "close");
    return;
  }
  const reader = original.body.getReader();
  let received = 0;
  let ended = false;
  const watched = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) {
          ended = true;
          controller.close();
          return;
        }
        received += value.byteLength;
        controller.enqueue(value);
      },
      // Deliberately not passed on (see above); what is left is drained or the connection closed below.
      cancel() {},
    },
    { highWaterMark: 0 },
  );
  c.req.raw = new Request(original, { body: watched, duplex: "half" } as RequestInit);
  await next();
  if (ended) return;
  const declared = declaredLength(original.headers);
  const left = declared === null ? DRAIN_MAX_BYTES : declared - received;
  if (left <= DRAIN_MAX_BYTES && (await drain(reader, DRAIN_MAX_BYTES))) return;
  c.header("Connection", "close");
};

/** Whether the request says a body follows (a length other than 0, or a transfer coding). */
function declaresBody(headers: Headers): boolean {
  const length = headers.get("content-length");
  return headers.has("transfer-encoding") || (length !== null && length.trim() !== "0");
}

/** The declared body length, or null when the body is chunked (or the header unreadable). */
function declaredLength(headers: Headers): number | null {
  const value = headers.get("content-length");
  if (headers.has("transfer-encoding") || value === null || !/^\d+$/.test(value)) return null;
  return Number(value);
}

/** Reads and drops the rest of a body: true once it ended within `maxBytes` and `DRAIN_MAX_MS`. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, maxBytes: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), DRAIN_MAX_MS);
  });
  let stopped = false;
  const readToEnd = async (): Promise<boolean> => {
    for (let dropped = 0; dropped <= maxBytes && !stopped; ) {
      const { done, value } = await reader.read();
      if (done) return true;
      dropped += value.byteLength;
    }
    return false;
  };
  try {
    // A client that hung up mid-body makes `read` reject: that connection is gone either way.
    return await Promise.race([readToEnd().catch(() => false), timeout]);
  } finally {
    stopped = true;
    clearTimeout(timer);
  }
}
