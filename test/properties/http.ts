import { Agent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { serve } from "@hono/node-server";

/**
 * Real HTTP for the property tests: the routes behind @hono/node-server's `serve` on a free port, a
 * node:http client on one keep-alive connection, and a raw connection that can send what no client
 * library would (a wrong Content-Length, a body longer or shorter than declared, any Host).
 */

export interface Listening {
  port: number;
  close(): Promise<void>;
}

/** Serves `fetch` on 127.0.0.1 and a free port, as an app would with `serve`. */
export async function listen(fetch: (request: Request) => Response | Promise<Response>): Promise<Listening> {
  const server = serve({ fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once("listening", () => resolve())));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        // Keep-alive connections would hold `close` open until they time out.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Which connection carried it: the same number means the same socket. */
  connection: number;
}

/** A node:http client with exactly one keep-alive connection to the server (a second request waits for it). */
export function keepAliveClient(port: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const ids = new WeakMap<Socket, number>();
  let opened = 0;
  return {
    /** How many connections the client has opened so far. */
    get opened() {
      return opened;
    },
    send(method: string, path: string, headers: Record<string, string>, body?: Uint8Array): Promise<Answer> {
      return new Promise<Answer>((resolve, reject) => {
        const request = httpRequest({ host: "127.0.0.1", port, method, path, headers, agent }, (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () =>
            resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks).toString(), connection: ids.get(request.socket!)! }),
          );
        });
        request.on("socket", (socket: Socket) => {
          if (!ids.has(socket)) ids.set(socket, ++opened);
        });
        request.on("error", reject);
        request.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One TCP connection that sends raw request bytes and parses the answers (Content-Length or chunked
 * bodies, as our routes and Node send them). `closed` tells whether the server ended the connection.
 */
export class RawConnection {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
    const ended = () => {
      this.closed = true;
      this.waiting?.();
    };
    socket.on("end", ended);
    socket.on("close", ended);
    socket.on("error", ended);
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(new RawConnection(socket)));
      socket.once("error", reject);
    });
  }

  /** Writes bytes; a server that already closed makes this a no-op (the answer, if any, is read anyway). */
  write(bytes: Uint8Array | string): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  /** Half-closes: the client sends nothing more (a body that stays shorter than declared). */
  endWrites(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  /**
   * The next answer, or null when the connection closed first (or nothing came within `timeoutMs`).
   * `toHead`: the answer to a HEAD request, which has no body whatever its headers say.
   */
  async read(timeoutMs = 5000, toHead = false): Promise<RawAnswer | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = this.parse(toHead);
      if (answer) return answer;
      if (this.closed || Date.now() >= deadline) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiting = null;
    }
  }

  /** Waits until the server closes the connection; true if it did within `timeoutMs`. */
  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * For an answer that may never end (a Server-Sent Events stream): waits until its head arrived and
   * the bytes after it satisfy `until` (or the connection closed, or `timeoutMs` passed), and returns
   * the head with those bytes as they came (chunk framing included), without consuming anything.
   */
  async peek(timeoutMs = 5000, until: (bodySoFar: string, headers: Record<string, string>) => boolean = () => true): Promise<RawAnswer | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const head = this.head();
      if (head && until(head.rest.toString(), head.headers)) return { status: head.status, headers: head.headers, body: head.rest.toString() };
      if (this.closed || Date.now() >= deadline) return head ? { status: head.status, headers: head.headers, body: head.rest.toString() } : null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiting = null;
    }
  }

  private head(): { status: number; headers: Record<string, string>; rest: Buffer<ArrayBuffer> } | null {
    const end = this.buffer.indexOf("\r\n\r\n");
    if (end < 0) return null;
    const [statusLine, ...lines] = this.buffer.subarray(0, end).toString("latin1").split("\r\n");
    const status = Number(statusLine!.split(" ")[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status, headers, rest: this.buffer.subarray(end + 4) };
  }

  private parse(toHead: boolean): RawAnswer | null {
    const head = this.head();
    if (!head) return null;
    const { status, headers } = head;
    let rest = head.rest;
    let body: Buffer;
    if (toHead) {
      body = Buffer.alloc(0);
    } else if (headers["transfer-encoding"]?.includes("chunked")) {
      const chunks: Buffer[] = [];
      for (;;) {
        const lineEnd = rest.indexOf("\r\n");
        if (lineEnd < 0) return null;
        const size = parseInt(rest.subarray(0, lineEnd).toString(), 16);
        if (rest.length < lineEnd + 2 + size + 2) return null;
        chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
        rest = rest.subarray(lineEnd + 2 + size + 2);
        if (size === 0) break;
      }
      body = Buffer.concat(chunks);
    } else if (headers["content-length"] !== undefined) {
      const length = Number(headers["content-length"]);
      if (rest.length < length) return null;
      body = rest.subarray(0, length);
      rest = rest.subarray(length);
    } else if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      body = Buffer.alloc(0);
    } else {
      // Delimited by the end of the connection.
      if (!this.closed) return null;
      body = rest;
      rest = Buffer.alloc(0);
    }
    this.buffer = rest;
    return { status, headers, body: body.toString() };
  }
}

/** The bytes of an HTTP/1.1 request, headers exactly as given (in order, duplicates allowed). */
export function rawRequest(method: string, path: string, headers: ReadonlyArray<readonly [string, string]>, body: Uint8Array = new Uint8Array()): Buffer {
  const head = `${method} ${path} HTTP/1.1\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join("")}\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}
