import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { settleRequestBody, takeNodeBody } from "../../../server/routes/request-body";
import { keepAliveClient, listen, RawConnection, type Listening } from "../../properties/http";

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * `takeNodeBody` on @hono/node-server: a route streams the request's own Node stream (no web stream,
 * no copy of each chunk), and `settleRequestBody` still leaves every connection usable or closed
 * saying so, as it does for bodies read through `c.req.raw.body`.
 */
describe("takeNodeBody behind settleRequestBody on @hono/node-server", () => {
  let server: Listening;
  const seen: string[] = [];

  beforeAll(async () => {
    const app = new Hono();
    app.use(settleRequestBody);
    // Reads the whole body from Node's stream and answers its length.
    app.put("/node", async (c) => {
      const body = takeNodeBody(c);
      if (!body) return c.text("no node body", 500);
      let bytes = 0;
      for await (const chunk of body) bytes += (chunk as Buffer).length;
      return c.text(String(bytes));
    });
    // Once the web body was read, Node's stream is no longer handed out.
    app.put("/web-first", async (c) => {
      const text = await c.req.text();
      return c.text(`${text.length} ${takeNodeBody(c) === null ? "null" : "stream"}`);
    });
    // Refuses after the first 64 KiB, destroying the stream it took (as pipeline does on a failure).
    app.put("/refuse", async (c) => {
      const body = takeNodeBody(c)!;
      let bytes = 0;
      for await (const chunk of body) {
        bytes += (chunk as Buffer).length;
        if (bytes >= 64 * KiB) break;
      }
      return c.text("too large", 413);
    });
    // A client that goes away: the taken stream fails instead of waiting for ever.
    app.put("/lost", async (c) => {
      const body = takeNodeBody(c)!;
      try {
        for await (const _chunk of body) {
          // read on
        }
        seen.push("ended");
      } catch (error) {
        seen.push(`failed: ${(error as Error).message}`);
      }
      return c.text("done");
    });
    server = await listen(app.fetch);
  });

  afterAll(async () => {
    await server?.close();
  });

  it("streams the body from Node's stream, and the connection serves the next request", async () => {
    const client = keepAliveClient(server.port);
    try {
      const body = new Uint8Array(3 * MiB + 17).fill(7);
      const first = await client.send("PUT", "/node", { "content-length": String(body.byteLength) }, body);
      expect([first.status, first.body]).toEqual([200, String(body.byteLength)]);
      const second = await client.send("PUT", "/node", { "content-length": "5" }, new TextEncoder().encode("hello"));
      expect([second.status, second.body, second.connection]).toEqual([200, "5", first.connection]);
    } finally {
      client.close();
    }
  });

  it("is null once the route read the web body", async () => {
    const client = keepAliveClient(server.port);
    try {
      const answer = await client.send("PUT", "/web-first", { "content-length": "5" }, new TextEncoder().encode("hello"));
      expect(answer.body).toBe("5 null");
    } finally {
      client.close();
    }
  });

  it("answers a refusal part-way through: keeps the connection when little is left, closes it saying so when much is", async () => {
    const small = await RawConnection.open(server.port);
    try {
      const length = 64 * KiB + 200 * KiB;
      small.write(`PUT /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`);
      small.write(new Uint8Array(length));
      const refused = await small.read();
      expect(refused?.status).toBe(413);
      expect(refused?.headers.connection).not.toBe("close");
      small.write("PUT /node HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
      expect((await small.read())?.body).toBe("3");
    } finally {
      small.destroy();
    }

    const large = await RawConnection.open(server.port);
    try {
      large.write(`PUT /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: ${64 * MiB}\r\n\r\n`);
      large.write(new Uint8Array(256 * KiB));
      const refused = await large.read();
      expect(refused?.status).toBe(413);
      expect(refused?.headers.connection).toBe("close");
      expect(await large.waitClosed()).toBe(true);
    } finally {
      large.destroy();
    }
  });

  it("fails the taken stream when the client goes away mid-body", async () => {
    const connection = await RawConnection.open(server.port);
    connection.write(`PUT /lost HTTP/1.1\r\nHost: x\r\nContent-Length: ${4 * MiB}\r\n\r\n`);
    connection.write(new Uint8Array(128 * KiB));
    await new Promise((resolve) => setTimeout(resolve, 100));
    connection.destroy();
    await expect.poll(() => seen.length, { timeout: 3000 }).toBe(1);
    expect(seen[0]).toMatch(/^failed: /);
  });
});
