import { connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { userTopic } from "../../../server/live/live-channel";
import { createTestUploads, type TestUploads } from "../../helpers/uploads";

// A real HTTP server (@hono/node-server) and raw sockets: what a closed tab, a crashed browser and a
// half-closed connection leave behind on the server must be nothing.
let t: TestUploads;
let server: ServerType;
let port: number;

beforeAll(async () => {
  // A long heartbeat: the streams must be freed when the socket goes, not when a heartbeat write fails.
  t = await createTestUploads({ live: { heartbeatSeconds: 60, maxStreamsPerPrincipal: 1000 } });
  const app = new Hono();
  app.route("/async-uploads", t.uploads.routes);
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, (info) => {
      port = info.port;
      resolve();
    });
  });
});
afterAll(async () => {
  await t.uploads.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await t.close();
});

/** Opens a stream over a raw socket and resolves once its `ready` event has arrived. */
async function openStream(principal: string): Promise<{ socket: Socket; text: () => string }> {
  const socket = connect({ host: "127.0.0.1", port });
  let received = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => (received += chunk));
  socket.on("error", () => {}); // a reset after destroy() is expected
  socket.write(`GET /async-uploads/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nx-principal: ${principal}\r\n\r\n`);
  await until(() => received.includes("event: ready"), "the ready event");
  expect(received).toMatch(/^HTTP\/1\.1 200/);
  return { socket, text: () => received };
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const connections = () => new Promise<number>((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));

describe("streams freed when clients go", () => {
  it("leaves no stream, listener or socket behind after destroyed and half-closed connections", async () => {
    const streams: Awaited<ReturnType<typeof openStream>>[] = [];
    for (let i = 0; i < 30; i++) streams.push(await openStream(`leak-${i % 3}`));
    expect(t.uploads.live.stats()).toMatchObject({ streams: 30, listeners: 30 });
    expect(await connections()).toBe(30);

    // The streams work before they go: one user's event reaches its ten.
    await t.uploads.publish(userTopic("leak-0"), "ping", 1);
    await until(() => streams.filter((_, i) => i % 3 === 0).every((s) => s.text().includes("event: ping")), "the ping on leak-0's streams");

    streams.slice(0, 10).forEach(({ socket }) => socket.destroy()); // a crashed browser: RST/FIN, gone
    streams.slice(10, 20).forEach(({ socket }) => socket.end()); // half-closed: FIN sent, still reading
    streams.slice(20, 30).forEach(({ socket }) => socket.resetAndDestroy()); // a reset
    await until(() => t.uploads.live.stats().listeners === 0, "every hub listener to go");
    expect(t.uploads.live.stats()).toEqual({ streams: 0, listeners: 0, topics: 0 });
    await until(() => streams.every(({ socket }) => socket.closed), "every client socket to close");
    let open = -1;
    await until(() => {
      void connections().then((count) => (open = count));
      return open === 0;
    }, "the server's connections to close");
  });

  it("answers HEAD without opening a stream (its body would never be read, nor the stream closed)", async () => {
    const socket = connect({ host: "127.0.0.1", port });
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (received += chunk));
    const request = (method: string) => `${method} /async-uploads/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nx-principal: head\r\n\r\n`;
    socket.write(request("HEAD") + request("HEAD"));
    await until(() => received.split("HTTP/1.1 200").length === 3, "two answers on one connection");
    expect(received).toContain("content-type: text/event-stream");
    expect(t.uploads.live.stats()).toEqual({ streams: 0, listeners: 0, topics: 0 });
    socket.destroy();
    await until(() => socket.closed, "the socket to close");
    expect(t.uploads.live.stats().streams).toBe(0);
  });

  it("a principal opening and dropping many streams holds at most its bound, and nothing stays", async () => {
    const few = await createTestUploads({ live: { heartbeatSeconds: 0.3, maxStreamsPerPrincipal: 4 } });
    try {
      const readers = [];
      for (let i = 0; i < 12; i++) {
        const response = await few.request("/events", { as: "greedy" });
        readers.push(response.body!.getReader());
        expect(few.uploads.live.stats().streams).toBeLessThanOrEqual(4);
      }
      expect(few.uploads.live.stats()).toMatchObject({ streams: 4, listeners: 4 });
      for (const reader of readers) await reader.cancel().catch(() => {});
      await until(() => few.uploads.live.stats().listeners === 0, "every hub listener to go");
    } finally {
      await few.uploads.close();
      await few.close();
    }
  });
});
