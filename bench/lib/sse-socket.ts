import { connect, type Socket } from "node:net";

/** One `GET /events` stream held over a raw socket: cheap enough to hold thousands from one process. */
export interface SseSocket {
  socket: Socket;
  /** Resolves when the stream's `ready` event has arrived. */
  ready: Promise<void>;
}

/**
 * Opens a stream as `principal` and hands every event to `onEvent(event, data, receivedAt)` as soon as
 * its block has arrived (the moment a browser's EventSource handler would run).
 */
export function openSseSocket(url: string, principal: string, onEvent: (event: string, data: string, receivedAt: number) => void): SseSocket {
  const { hostname, port, pathname } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  socket.on("error", () => {}); // resets after destroy() are expected
  let raw: Buffer = Buffer.alloc(0);
  let text = "";
  let headersDone = false;
  let markReady!: () => void;
  let fail!: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => ((markReady = resolve), (fail = reject)));
  socket.once("close", () => fail(new Error(`stream of ${principal} closed before ready`)));
  socket.on("data", (chunk: Buffer) => {
    const receivedAt = performance.now();
    raw = raw.length === 0 ? chunk : Buffer.concat([raw, chunk]);
    if (!headersDone) {
      const end = raw.indexOf("\r\n\r\n");
      if (end === -1) return;
      const head = raw.subarray(0, end).toString("latin1");
      if (!head.startsWith("HTTP/1.1 200")) return fail(new Error(`stream of ${principal}: ${head}`));
      headersDone = true;
      raw = raw.subarray(end + 4);
    }
    // Chunked transfer encoding: <hex size>\r\n<bytes>\r\n, repeated.
    for (;;) {
      const lineEnd = raw.indexOf("\r\n");
      if (lineEnd === -1) break;
      const size = Number.parseInt(raw.subarray(0, lineEnd).toString("latin1"), 16);
      if (raw.length < lineEnd + 2 + size + 2) break;
      text += raw.subarray(lineEnd + 2, lineEnd + 2 + size).toString("utf8");
      raw = raw.subarray(lineEnd + 2 + size + 2);
    }
    let blockEnd: number;
    while ((blockEnd = text.indexOf("\n\n")) !== -1) {
      const block = text.slice(0, blockEnd);
      text = text.slice(blockEnd + 2);
      let event = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (event === "ready") markReady();
      onEvent(event, data, receivedAt);
    }
  });
  socket.write(`GET ${pathname}/events HTTP/1.1\r\nHost: ${hostname}:${port}\r\nx-principal: ${principal}\r\nAccept: text/event-stream\r\n\r\n`);
  return { socket, ready };
}
