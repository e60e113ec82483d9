import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { count } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { asyncTempFile } from "../../server/db/schema";
import { MAX_JSON_BODY_BYTES } from "../../server/routes/guards";
import { PDF_BYTES } from "../helpers/uploads";
import { createHarness, errorOf, FIELDS, type Harness } from "./harness";

/**
 * Request abuse against the JSON route and the upload route, partly over a real socket (chunked
 * bodies without Content-Length, cut connections), which `app.request()` cannot show.
 */
describe("request abuse", () => {
  let h: Harness;
  let server: ReturnType<typeof serve>;
  let base = "";
  const valid = { fieldId: FIELDS.file, filename: "a.pdf", contentType: "application/pdf", size: PDF_BYTES.length };
  beforeAll(async () => {
    h = await createHarness("filesystem", { allowedOrigins: ["https://app.example"], maxPendingUploadsPerPrincipal: 1000 });
    server = serve({ fetch: h.uploads.routes.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise<void>((resolve) => (server.listening ? resolve() : server.once("listening", () => resolve())));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await h?.close();
  });
  beforeEach(async () => {
    await h.db.delete(asyncTempFile);
  });

  const rows = async () => (await h.db.select({ n: count() }).from(asyncTempFile))[0]?.n;
  const post = (body: string, headers: Record<string, string> = {}) =>
    h.request("/upload-url", { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  it("a huge JSON body streamed without Content-Length is cut at the limit: 400, no row, server still answers", async () => {
    const chunk = new TextEncoder().encode(`{"fieldId":"${FIELDS.file}","filename":"${"a".repeat(8 * 1024)}`);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        // Up to 8 MiB, far beyond the 16 KiB limit; the server must stop reading long before.
        if (sent >= 8 * 1024 * 1024) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const response = await fetch(`${base}/upload-url`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-principal": "alice" },
      body,
      duplex: "half",
    } as RequestInit);
    expect((await errorOf(response, 400)).code).toBe("invalid_request");
    expect(await rows()).toBe(0);
    const next = await fetch(`${base}/upload-url`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-principal": "alice", origin: base },
      body: JSON.stringify(valid),
    });
    expect(next.status).toBe(201);
  });

  it.each([
    ["deeply nested objects", `{"fieldId":${'{"a":'.repeat(2000)}1${"}".repeat(2000)}}`],
    ["a JSON null", "null"],
    ["a JSON number", "42"],
    ["a JSON string", '"upload-url"'],
    ["invalid UTF-8", "\xff\xfe{}"],
    ["prototype pollution through __proto__", `{"__proto__":{"polluted":true},${JSON.stringify(valid).slice(1)}`],
    ["prototype pollution through constructor", `{"constructor":{"prototype":{"polluted":true}},${JSON.stringify(valid).slice(1)}`],
    ["a body just over the limit", JSON.stringify({ ...valid, filename: "a".repeat(MAX_JSON_BODY_BYTES) })],
  ])("%s → 400 invalid_request, no row, nothing polluted", async (_label, body) => {
    expect((await errorOf(await post(body), 400)).code).toBe("invalid_request");
    expect(await rows()).toBe(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("duplicate members: the value actually used is the one validated (last wins → 413)", async () => {
    const body = `{"fieldId":"${FIELDS.file}","filename":"a.pdf","contentType":"application/pdf","size":10,"size":1000000000000}`;
    expect((await errorOf(await post(body), 413)).code).toBe("file_too_large");
    expect(await rows()).toBe(0);
  });

  it.each([
    ["form-encoded (a cross-site HTML form)", "application/x-www-form-urlencoded"],
    ["multipart (a cross-site HTML form)", "multipart/form-data; boundary=x"],
    ["text/plain (a no-preflight fetch)", "text/plain"],
    ["a JSON-looking subtype", "application/json-patch+json"],
    ["a JSON prefix", "application/jsonx"],
    ["two types in one header", "application/json, text/plain"],
    ["none", ""],
  ])("content type %s → 400, no row", async (_label, contentType) => {
    const response = await h.request("/upload-url", {
      method: "POST",
      headers: contentType ? { "content-type": contentType } : {},
      body: JSON.stringify(valid),
    });
    expect((await errorOf(response, 400)).code).toBe("invalid_request");
    expect(await rows()).toBe(0);
  });

  it.each([
    ["null (sandboxed iframe, file://)", "null"],
    ["another port", "http://localhost:8080"],
    ["another scheme", "https://localhost"],
    ["a suffix of our host", "http://localhost.evil.example"],
    ["userinfo trick", "http://localhost@evil.example"],
    ["an allowed origin as a prefix", "https://app.example.evil.example"],
    ["an allowed origin with a path", "https://app.example/evil"],
    ["an allowed origin in upper case", "HTTPS://APP.EXAMPLE"],
    ["two origins", "https://app.example https://evil.example"],
  ])("a foreign Origin is refused: %s → 403", async (_label, origin) => {
    expect((await errorOf(await post(JSON.stringify(valid), { origin }), 403)).code).toBe("forbidden");
    expect(await rows()).toBe(0);
  });

  it("the page's own origin and configured ones are allowed, exactly", async () => {
    expect((await post(JSON.stringify(valid), { origin: "http://localhost" })).status).toBe(201);
    expect((await post(JSON.stringify(valid), { origin: "https://app.example" })).status).toBe(201);
  });

  it("a missing Origin: allowed for non-browser clients, refused when fetch metadata says cross-site", async () => {
    // Browsers send Origin on every cross-origin POST, and JSON needs a preflight we never answer.
    expect((await post(JSON.stringify(valid))).status).toBe(201);
    expect((await errorOf(await post(JSON.stringify(valid), { "sec-fetch-site": "cross-site" }), 403)).code).toBe("forbidden");
    expect(await rows()).toBe(1);
  });

  it("an upload body streamed past the declared size over a real socket: 413, no partial file, server still answers", async () => {
    const target = await h.issue(valid);
    const url = new URL(target.upload.url, base);
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(url, { method: "PUT", headers: { "content-type": "application/pdf" } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on("error", (error) => (String(error).includes("EPIPE") || String(error).includes("ECONNRESET") ? resolve(413) : reject(error)));
      // Chunked, no Content-Length: the server cannot know the size before counting.
      for (let i = 0; i < 64; i++) request.write(Buffer.alloc(16 * 1024, 0x41));
      request.end();
    });
    expect(status).toBe(413);
    expect(await h.backend.storage.stat(target.key)).toBeNull();
    expect((await h.backend.list()).filter((key) => key.startsWith(target.key))).toEqual([]);
    expect((await fetch(url, { method: "PUT", headers: { "content-type": "application/pdf" }, body: PDF_BYTES })).status).toBe(201);
  });

  it("an upload cut off mid-body leaves no partial file, and the same URL can then be used", async () => {
    const big = 256 * 1024;
    const target = await h.issue({ ...valid, filename: "big.bin", contentType: "application/octet-stream", size: big });
    const url = new URL(target.upload.url, base);
    await new Promise<void>((resolve) => {
      const request = httpRequest(url, { method: "PUT", headers: { "content-type": "application/octet-stream", "content-length": String(big) } });
      request.on("error", () => resolve());
      request.write(Buffer.alloc(64 * 1024, 0x42), () => setTimeout(() => { request.destroy(); resolve(); }, 100));
    });
    // The server notices the cut connection and removes what it wrote (a `.partial-…` file).
    const directory = target.key.slice(0, target.key.lastIndexOf("/") + 1);
    const mine = async () => (await h.backend.list()).filter((key) => key.startsWith(directory));
    await expect.poll(mine, { timeout: 5000 }).toEqual([]);
    const again = await fetch(url, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: new Uint8Array(big) });
    expect(again.status).toBe(201);
    expect(await mine()).toEqual([target.key]);
  });
});
