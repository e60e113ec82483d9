import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Readable } from "node:stream";
import { AsyncUploadsError } from "../errors.js";
import { takeNodeBody } from "./request-body.js";

/** Decodes as Fetch's `json()` does: UTF-8, a leading BOM dropped. Stateless between calls. */
const utf8 = new TextDecoder();

/**
 * The parsed JSON body (for the caller to validate); what Hono's `validator("json", …)` reads, read more
 * cheaply. On @hono/node-server the bytes come from Node's own request stream (`takeNodeBody`): the
 * adapter's web body (`Readable.toWeb`) and its hops through settleRequestBody's stream were about a
 * tenth of the upload-url route's CPU in a --cpu-prof under load. Elsewhere (another runtime, or a body
 * already wrapped) it reads Fetch's body as before. Malformed JSON is a 400 `invalid_request` as from
 * Hono's validator; a body over `maxBytes` (only possible without Content-Length, which `smallBody`
 * checks first) one as from `smallBody`.
 */
export async function readJsonBody(c: Context, maxBytes: number): Promise<unknown> {
  const stream = takeNodeBody(c);
  try {
    return stream ? JSON.parse(utf8.decode(await readAll(stream, maxBytes))) : await c.req.json();
  } catch (error) {
    if (error instanceof AsyncUploadsError) throw error;
    throw new HTTPException(400, { message: "Malformed JSON in request body" });
  }
}

/** Every byte of a small body; destroying the stream on excess leaves the rest to settleRequestBody. */
function readAll(stream: Readable, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        stream.destroy();
        reject(new AsyncUploadsError("invalid_request", `The request body is larger than ${maxBytes} bytes.`));
        return;
      }
      chunks.push(chunk);
    });
    stream.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    stream.once("error", reject);
  });
}
