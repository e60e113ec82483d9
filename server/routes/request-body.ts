import type { Context, MiddlewareHandler } from "hono";
import { Readable, Transform } from "node:stream";

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
  const incoming = nodeIncoming(c);
  if (incoming) return settleNodeRequestBody(c, next, incoming);
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

/** A body taken as Node's own stream (`takeNodeBody`), or read through the web stream. */
interface NodeBody {
  incoming: Readable;
  /** `takeNodeBody` handed it out: the web stream must not be created any more. */
  taken: boolean;
  /** The web stream was read: `takeNodeBody` must not hand the request out. */
  readAsWeb: boolean;
  /** Bytes of the body read, by either way. */
  received: number;
}

const nodeBodies = new WeakMap<Request, NodeBody>();

/**
 * Node's IncomingMessage, when the app runs on @hono/node-server (which passes it as `c.env.incoming`).
 * Checked by shape: the library does not depend on the adapter.
 */
function nodeIncoming(c: Context): Readable | null {
  const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming;
  return incoming instanceof Readable && "headers" in incoming && "method" in incoming ? incoming : null;
}

/**
 * On @hono/node-server, the same promise without touching the adapter's web body until a route reads it:
 * the adapter makes it with `Readable.toWeb`, which copies every chunk (Node's webstreams adapter,
 * "Copy the Buffer to detach it from the pool") and, for a 1 GiB upload, made the filesystem route
 * spend about a quarter of its time collecting garbage. A route that streams a large body takes
 * Node's stream instead (`takeNodeBody`); the others read `c.req.raw.body` as before.
 */
async function settleNodeRequestBody(c: Context, next: () => Promise<void>, incoming: Readable): Promise<void> {
  const original = c.req.raw;
  const method = original.method;
  // Fetch cannot make a Request with TRACE (no route has it): its body is left alone, as a GET's.
  if (method === "GET" || method === "HEAD" || method === "TRACE") {
    await next();
    if (declaresBody(original.headers)) c.header("Connection", "close");
    return;
  }
  const body: NodeBody = { incoming, taken: false, readAsWeb: false, received: 0 };
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let ended = false;
  const watched = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (body.taken) throw new Error("the request body was taken as a Node stream");
        body.readAsWeb = true;
        reader ??= original.body!.getReader();
        const { done, value } = await reader.read();
        if (done) {
          ended = true;
          controller.close();
          return;
        }
        body.received += value.byteLength;
        controller.enqueue(value);
      },
      // Deliberately not passed on (see settleRequestBody).
      cancel() {},
    },
    { highWaterMark: 0 },
  );
  // Built from the parts, not from `original`: copying a Request reads its body, which makes the web stream.
  const request = new Request(original.url, { method, headers: original.headers, signal: original.signal, body: watched, duplex: "half" } as RequestInit);
  nodeBodies.set(request, body);
  c.req.raw = request;
  await next();
  if (ended || incoming.readableEnded) return;
  const declared = declaredLength(original.headers);
  const left = declared === null ? DRAIN_MAX_BYTES : declared - body.received;
  if (left <= DRAIN_MAX_BYTES) {
    if (body.taken ? await drainNode(incoming, DRAIN_MAX_BYTES) : await drain((reader ??= original.body!.getReader()), DRAIN_MAX_BYTES)) return;
  }
  c.header("Connection", "close");
}

/**
 * The request's body as a Node stream, on @hono/node-server, when no one has read it as a web stream:
 * no copy of each chunk and no web-stream hops, for routes that stream large bodies to disk. Null
 * elsewhere (another runtime, or the body already read): read `c.req.raw.body` then. The stream ends
 * when the body does and fails when the client goes away; destroying it (as `pipeline` does on a
 * failure) leaves the request and its connection alone, so a refusal can still be answered.
 */
export function takeNodeBody(c: Context): Readable | null {
  const body = nodeBodies.get(c.req.raw);
  if (!body || body.taken || body.readAsWeb) return null;
  body.taken = true;
  const { incoming } = body;
  const lost = () => {
    if (!incoming.readableEnded) counted.destroy(new Error("the client went away before the body ended"));
  };
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      body.received += chunk.length;
      callback(null, chunk);
    },
    // At once, not on 'close' (a tick later): what is left of the body is settleRequestBody's to drain.
    destroy(error, callback) {
      incoming.off("error", lost);
      incoming.off("close", lost);
      incoming.unpipe(counted);
      callback(error);
    },
  });
  incoming.once("error", lost);
  incoming.once("close", lost);
  incoming.pipe(counted);
  return counted;
}

/** Reads and drops the rest of a Node request body: true once it ended within `maxBytes` and `DRAIN_MAX_MS`. */
function drainNode(incoming: Readable, maxBytes: number): Promise<boolean> {
  return new Promise((resolve) => {
    let dropped = 0;
    const finish = (ended: boolean) => {
      clearTimeout(timer);
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      incoming.off("close", onClose);
      if (!ended) incoming.pause();
      resolve(ended);
    };
    const onData = (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > maxBytes) finish(false);
    };
    const onEnd = () => finish(true);
    const onClose = () => finish(incoming.readableEnded);
    const timer = setTimeout(() => finish(false), DRAIN_MAX_MS);
    incoming.on("data", onData);
    incoming.once("end", onEnd);
    incoming.once("close", onClose);
    incoming.resume();
  });
}
