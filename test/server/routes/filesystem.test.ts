import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { readdir, readFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MiB } from "../../../server/registry";
import { signToken } from "../../../server/tokens";
import { createTestUploads, PDF_BYTES, TEST_SECRET, type TestUploads } from "../../helpers/uploads";
import { listen, type Listening } from "../../properties/http";

describe("filesystem upload and download routes", () => {
  let t: TestUploads;
  let storedKey = "";
  beforeAll(async () => {
    t = await createTestUploads({
      register: (uploads) =>
        uploads.registry.register("docs.attachment", {
          maxSize: MiB,
          canDownload: ({ principal }) => principal !== "mallory",
          resolveKey: async ({ instanceId }) => (instanceId === "doc-1" ? storedKey : null),
        }),
    });
  });
  afterAll(() => t.close());

  const issue = (size = PDF_BYTES.length) =>
    t.issue({ fieldId: "docs.attachment", filename: "a.pdf", contentType: "application/pdf", size });
  const tokenOf = (url: string) => url.slice(url.lastIndexOf("/") + 1);
  const codeOf = async (response: Response) => (await response.json()).error.code;

  it("stores the body at the key and refuses a second upload with 409", async () => {
    const target = await issue();
    expect((await t.put(target, PDF_BYTES)).status).toBe(201);
    expect(new Uint8Array(await readFile(join(t.root, target.key)))).toEqual(PDF_BYTES);
    const again = await t.put(target, new TextEncoder().encode("%PDF-evil-replacement-bytes-of-same-size".slice(0, PDF_BYTES.length)));
    expect(again.status).toBe(409);
    expect(await codeOf(again)).toBe("already_uploaded");
    expect(new Uint8Array(await readFile(join(t.root, target.key)))).toEqual(PDF_BYTES);
  });

  it("refuses a body larger than issued (413) or smaller (400) and leaves no file", async () => {
    const large = await issue(10);
    const tooLarge = await t.put(large, new Uint8Array(11));
    expect(tooLarge.status).toBe(413);
    expect(await codeOf(tooLarge)).toBe("file_too_large");
    const small = await issue(10);
    expect((await t.put(small, new Uint8Array(9))).status).toBe(400);
    for (const target of [large, small]) {
      const dir = join(t.root, target.key, "..");
      expect(await readdir(dir).catch(() => [])).toEqual([]);
    }
  });

  it("refuses a Content-Type other than the one signed", async () => {
    const target = await issue();
    const response = await t.put(target, PDF_BYTES, "text/html");
    expect(response.status).toBe(400);
  });

  it("refuses tampered, expired and wrong-purpose tokens with 403", async () => {
    const target = await issue();
    const [payload, signature] = tokenOf(target.upload.url).split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, size: 10 * MiB })).toString("base64url");
    const cases: Array<[string, string]> = [
      [`${forged}.${signature}`, "invalid_token"],
      [`${payload}.${signature}x`, "invalid_token"],
      ["garbage", "invalid_token"],
      [signToken({ ...claims, expiresAt: Date.now() - 1 }, TEST_SECRET), "expired_token"],
      [signToken({ purpose: "download", key: claims.key, filename: "a.pdf", expiresAt: Date.now() + 60_000, fieldId: "docs.attachment" }, TEST_SECRET), "invalid_token"],
      [signToken(claims, "another-secret-another-secret-another-secret"), "invalid_token"],
    ];
    for (const [token, code] of cases) {
      const response = await t.request(`/fs/upload/${token}`, { method: "PUT", headers: { "content-type": "application/pdf" }, body: PDF_BYTES, as: null });
      expect(response.status, token).toBe(403);
      expect(await codeOf(response)).toBe(code);
    }
  });

  it("redirects an allowed download to a signed attachment URL, never cached", async () => {
    const target = await issue();
    await t.put(target, PDF_BYTES);
    storedKey = target.key;
    const redirect = await t.request("/download/docs.attachment/doc-1");
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("cache-control")).toBe("private, no-store");
    const location = redirect.headers.get("location")!;
    expect(location).toMatch(/^\/fs\/download\//);
    const file = await t.request(location, { as: null });
    expect(file.status).toBe(200);
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(PDF_BYTES);
    expect(file.headers.get("content-disposition")).toContain("attachment");
    expect(file.headers.get("content-disposition")).toContain("a.pdf");
    expect(file.headers.get("x-content-type-options")).toBe("nosniff");
    // A download token cannot upload.
    const upload = await t.request(location.replace("/fs/download/", "/fs/upload/"), { method: "PUT", headers: { "content-type": "application/pdf" }, body: PDF_BYTES, as: null });
    expect(upload.status).toBe(403);
    // An upload token cannot download.
    const download = await t.request(target.upload.url.replace("/fs/upload/", "/fs/download/"), { as: null });
    expect(download.status).toBe(403);
  });

  it("refuses downloads to the wrong person, unknown records and keys not of the record", async () => {
    expect((await t.request("/download/docs.attachment/doc-1", { as: "mallory" })).status).toBe(403);
    expect((await t.request("/download/docs.attachment/doc-1", { as: null })).status).toBe(401);
    expect((await t.request("/download/docs.attachment/doc-2")).status).toBe(404);
    expect((await t.request("/download/nope/doc-1")).status).toBe(404);
    expect((await t.request("/download/docs.attachment/doc-1?key=async-temp%2Fother")).status).toBe(404);
    expect((await t.request("/download/docs.attachment/..%2F..%2Fetc")).status).toBe(404);
  });
});

/**
 * On @hono/node-server the route streams Node's own request stream and frees each chunk's memory as
 * soon as it is written (releaseChunksOnceWritten): the file must still hold exactly the bytes sent.
 */
describe("filesystem upload route on @hono/node-server", () => {
  let t: TestUploads;
  let server: Listening;
  beforeAll(async () => {
    t = await createTestUploads({ register: (uploads) => uploads.registry.register("docs.large", { maxSize: 64 * MiB, multipartThreshold: Infinity }) });
    server = await listen(t.uploads.routes.fetch);
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  /** PUTs `content` in 256 KiB writes, as a browser streams a file; resolves with the status. */
  function put(path: string, content: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request({ port: server.port, host: "127.0.0.1", path, method: "PUT", headers: { "content-type": "application/pdf", "content-length": String(content.length) } });
      req.on("response", (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
      });
      req.on("error", reject);
      void (async () => {
        for (let i = 0; i < content.length; i += 256 * 1024) {
          if (!req.write(content.subarray(i, i + 256 * 1024))) await once(req, "drain");
        }
        req.end();
      })();
    });
  }

  it("stores exactly the bytes sent, in many chunks", async () => {
    const content = randomBytes(12 * MiB);
    const target = await t.issue({ fieldId: "docs.large", filename: "a.pdf", contentType: "application/pdf", size: content.length });
    expect(await put(target.upload.url, content)).toBe(201);
    expect((await readFile(join(t.root, target.key))).equals(content)).toBe(true);
    // The client's own buffer is untouched: only the server's copies are freed.
    expect(content.length).toBe(12 * MiB);
  });
});
