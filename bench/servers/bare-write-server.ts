/**
 * Child process: the floor for streaming an upload to disk over HTTP. A plain `node:http` server that
 * pipes each PUT body into `fs.createWriteStream` and answers 201: no framework, no token, no checks.
 *
 * Environment: BENCH_FS_ROOT (where the files go).
 */
import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { failStart, serveParent } from "../lib/child";
import { gcCounter } from "./gc-counter";

try {
  const root = process.env.BENCH_FS_ROOT;
  if (!root) throw new Error("BENCH_FS_ROOT is not set");
  const server = createServer((request, response) => {
    const path = join(root, randomUUID());
    pipeline(request, createWriteStream(path)).then(
      () => response.writeHead(201).end(),
      (error: unknown) => response.writeHead(500).end(String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  serveParent({ url: `http://127.0.0.1:${address.port}`, pid: process.pid }, gcCounter(), async () => {
    server.closeAllConnections();
    server.close();
  });
} catch (error) {
  failStart(error);
}
