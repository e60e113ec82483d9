import { createServer, type Server } from "node:http";
import type { Duplex } from "node:stream";
import { getRequestListener, RequestError } from "@hono/node-server";

/**
 * The demo's Node.js HTTP server around the Hono app (what `serve` from @hono/node-server makes), with
 * one difference: a request the server cannot read — an unreadable Content-Length or header, a Host
 * that is no host, none at all — is answered with a 4xx that says why, in words, instead of Node's
 * and the adapter's empty `400 Bad Request`.
 */
export function createDemoServer(fetch: (request: Request) => Response | Promise<Response>): Server {
  const listener = getRequestListener(fetch, {
    // The adapter's own refusals (Host, URL) come here; anything else was not the request's fault.
    errorHandler: (error) =>
      error instanceof RequestError
        ? plainText(400, `The request could not be read: ${error.message}.`)
        : plainText(500, "Something went wrong. Please try again."),
  });
  // Without a Host header Node would answer an empty 400 itself; the adapter refuses it with words.
  const server = createServer({ requireHostHeader: false }, listener);
  server.on("clientError", answerUnreadableRequest);
  return server;
}

function plainText(status: number, message: string): Response {
  return new Response(`${message}\n`, { status, headers: { "Content-Type": "text/plain; charset=utf-8" } });
}

/**
 * Node's parser gave up on the request (see `clientError` in node:http): the connection cannot carry
 * another request, so the answer says `Connection: close`, and names what was wrong.
 */
function answerUnreadableRequest(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? [431, "Request Header Fields Too Large"]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "Request Timeout"]
        : [400, "Bad Request"];
  const detail = error.message.replace(/^Parse Error: /, "").replace(/[^\x20-\x7e]/g, "");
  const body = `The request could not be read: ${detail || reason}.\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}
