import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { documents } from "../../../demo/schema";
import { RawConnection, rawRequest } from "../../properties/http";
import { Visitor, startDemo, type DemoServer } from "./harness";

/**
 * What the demo's HTTP server does with requests it refuses, on the wire: the answer reaches the client
 * with words in it, and the keep-alive connection takes the next request, or the answer said
 * `Connection: close` and the server closed it.
 */
describe("demo app, connections after a refusal (filesystem)", () => {
  let server: DemoServer;
  let visitor: Visitor;
  let port: number;

  beforeAll(async () => {
    server = await startDemo("filesystem");
    port = Number(new URL(server.url).port);
    visitor = await new Visitor(server).start();
  });
  afterAll(async () => {
    await server?.close();
  });

  const host = (): [string, string] => ["Host", `127.0.0.1:${port}`];
  const homePage = () => rawRequest("GET", "/", [host(), ["Cookie", visitor.cookie]]);

  function formPost(origin: string, body: Buffer, framing: "length" | "chunked"): Buffer {
    const headers: Array<[string, string]> = [host(), ["Origin", origin], ["Cookie", visitor.cookie], ["Content-Type", "application/x-www-form-urlencoded"]];
    if (framing === "length") return rawRequest("POST", "/documents", [...headers, ["Content-Length", String(body.byteLength)]], body);
    const chunked = Buffer.concat([Buffer.from(`${body.byteLength.toString(16)}\r\n`), body, Buffer.from("\r\n0\r\n\r\n")]);
    return rawRequest("POST", "/documents", [...headers, ["Transfer-Encoding", "chunked"]], chunked);
  }

  it.each([
    ["too large", "self", 300 * 1024, "length", 413],
    ["too large", "self", 300 * 1024, "chunked", 413],
    ["from another site", "https://evil.example", 200 * 1024, "length", 403],
    ["from another site", "https://evil.example", 200 * 1024, "chunked", 403],
  ] as const)("keeps the connection after refusing a form %s (%s, %s bytes, %s)", async (_what, origin, size, framing, status) => {
    const connection = await RawConnection.open(port);
    try {
      connection.write(formPost(origin === "self" ? server.url : origin, Buffer.from(`title=${"x".repeat(size)}`), framing));
      const refusal = await connection.read();
      expect(refusal?.status).toBe(status);
      expect(refusal?.headers.connection).toBe("keep-alive");
      connection.write(homePage());
      expect((await connection.read())?.status).toBe(200);
    } finally {
      connection.destroy();
    }
    expect(await server.db.select().from(documents)).toEqual([]);
  });

  it("says Connection: close, and closes, when the refused body is too long to read to its end", async () => {
    const connection = await RawConnection.open(port);
    try {
      connection.write(formPost(server.url, Buffer.from(`title=${"x".repeat(3 * 1024 * 1024)}`), "length"));
      const refusal = await connection.read();
      expect(refusal?.status).toBe(413);
      expect(refusal?.headers.connection).toBe("close");
      expect(await connection.waitClosed()).toBe(true);
    } finally {
      connection.destroy();
    }
  });

  const unreadable: Array<[string, Array<[string, string]>, RegExp]> = [
    ["an unreadable Content-Length", [["Host", "SELF"], ["Content-Length", "abc"]], /could not be read: .*Content-Length/i],
    ["two Content-Lengths", [["Host", "SELF"], ["Content-Length", "1, 2"]], /could not be read/],
    ["no Host", [["Content-Length", "7"]], /could not be read: Missing host header/],
    ["a Host that is no host", [["Host", "a b"], ["Content-Length", "7"]], /could not be read: Invalid (URL|host header)/],
  ];

  it.each(unreadable)("answers a request with %s with a 400 in words", async (_what, headers, message) => {
    const connection = await RawConnection.open(port);
    try {
      const sent = headers.map(([name, value]): [string, string] => (value === "SELF" ? host() : [name, value]));
      connection.write(rawRequest("POST", "/documents", [...sent, ["Origin", server.url], ["Content-Type", "application/x-www-form-urlencoded"]], Buffer.from("title=x")));
      const answer = await connection.read();
      expect(answer?.status).toBe(400);
      expect(answer?.body).toMatch(message);
      if (answer?.headers.connection === "close") {
        expect(await connection.waitClosed()).toBe(true);
      } else {
        connection.write(homePage());
        expect((await connection.read())?.status).toBe(200);
      }
    } finally {
      connection.destroy();
    }
    expect(await server.db.select().from(documents)).toEqual([]);
  });
});
