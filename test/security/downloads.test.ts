import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PDF_BYTES, PNG_1x1 } from "../helpers/uploads";
import { BACKENDS, createHarness, FIELDS, text, type Harness } from "./harness";

/**
 * Downloads, on every backend: the route decides who may have which file, and the URL it redirects
 * to serves exactly that file as an attachment. Nothing a caller adds changes where it points or
 * how the file is served.
 */
for (const backendName of BACKENDS) {
  describe(`downloads on ${backendName}`, () => {
    let h: Harness;
    let cover = "";
    let attachment = "";
    let bobs = "";
    let storageOrigin = "";
    beforeAll(async () => {
      h = await createHarness(backendName, { downloadUrlLifetime: 60 });
      h.records.set("doc-a", { owner: "alice", keys: {} });
      h.records.set("doc-b", { owner: "bob", keys: {} });
      cover = (await h.save("alice", "doc-a", FIELDS.image, await h.uploaded(FIELDS.image, PNG_1x1, { filename: "c.png", contentType: "image/png" }))).key!;
      attachment = (await h.save("alice", "doc-a", FIELDS.file, await h.uploaded(FIELDS.file, PDF_BYTES, { filename: "a.pdf", contentType: "application/pdf" }))).key!;
      bobs = (await h.save("bob", "doc-b", FIELDS.file, await h.uploaded(FIELDS.file, PDF_BYTES, { as: "bob" }))).key!;
      storageOrigin = backendName === "s3" ? h.backend.s3!.endpoint : backendName === "azure" ? new URL(h.backend.azurite!.blobEndpoint).origin : "";
    });
    afterAll(() => h?.close());

    const get = (path: string, init: { as?: string | null; headers?: Record<string, string> } = {}) => h.request(path, { ...init });

    /** The Location of an allowed download, checked to point at our own route or the storage service only. */
    function expectOwnLocation(response: Response): URL {
      expect(response.status).toBe(302);
      expect(response.headers.get("cache-control")).toBe("private, no-store");
      const location = response.headers.get("location")!;
      expect(location).not.toMatch(/[\r\n]/);
      if (backendName === "filesystem") {
        // Root-relative, and never protocol-relative ("//evil.example/…").
        expect(location).toMatch(/^\/fs\/download\/[\w-]+\.[\w-]+$/);
        return new URL(location, "http://localhost");
      }
      const url = new URL(location);
      expect(url.origin).toBe(storageOrigin);
      return url;
    }

    it("another person's record: 403 forbidden, no Location, nothing signed in the body", async () => {
      for (const as of ["mallory", "alice"]) {
        const response = await get(`/download/${FIELDS.file}/${as === "alice" ? "doc-b" : "doc-a"}`, { as });
        expect(response.headers.get("location")).toBeNull();
        const body = await response.text();
        expect(response.status).toBe(403);
        expect(body).not.toMatch(/sig=|Signature|fs\/download/);
      }
      expect((await get(`/download/${FIELDS.file}/doc-a`, { as: null })).status).toBe(401);
    });

    it("caller-supplied response headers in the query are ignored: always an attachment", async () => {
      const hostile =
        "response-content-type=text%2Fhtml&response-content-disposition=inline&rscd=inline&rsct=text%2Fhtml&" +
        "content-type=text%2Fhtml&filename=evil.html";
      const url = expectOwnLocation(await get(`/download/${FIELDS.file}/doc-a?${hostile}`));
      expect(url.search).not.toMatch(/text%2Fhtml|text\/html|inline|evil/);
      const download = backendName === "filesystem" ? await get(url.pathname, { as: null }) : await fetch(url);
      expect(download.status).toBe(200);
      expect(download.headers.get("content-disposition")).toMatch(/^attachment; filename="a\.pdf"/);
      expect(download.headers.get("content-type")).not.toMatch(/html/);
      expect(new Uint8Array(await download.arrayBuffer())).toEqual(PDF_BYTES);
    });

    it("open redirect attempts: query parameters, Host and forwarding headers never change the target", async () => {
      const response = await get(`/download/${FIELDS.file}/doc-a?redirect=https://evil.example&next=//evil.example&url=https:evil.example&returnTo=%2F%2Fevil.example`, {
        headers: {
          host: "evil.example",
          "x-forwarded-host": "evil.example",
          "x-forwarded-proto": "javascript",
          "x-original-url": "//evil.example/",
          "x-rewrite-url": "//evil.example/",
          forwarded: "host=evil.example;proto=https",
        },
      });
      const url = expectOwnLocation(response);
      expect(url.toString()).not.toContain("evil");
    });

    it("path confusion around the route answers 404 without a Location", async () => {
      for (const path of [
        `//evil.example/download/${FIELDS.file}/doc-a`,
        `/download/${FIELDS.file}/doc-a/..%2F..%2Fevil`,
        `/download/${FIELDS.file}/..%2Fdoc-b`,
        `/download/${FIELDS.file}/doc-a%2F..%2Fdoc-b`,
        `/download/${FIELDS.file}/doc-a%00`,
        `/download/${encodeURIComponent("../" + FIELDS.file)}/doc-a`,
      ]) {
        const response = await get(path);
        expect(response.status, path).toBe(404);
        expect(response.headers.get("location"), path).toBeNull();
      }
    });

    it("?key= can only pick a file of this field of this record", async () => {
      for (const key of [
        bobs, // another record's file
        cover, // another field of the same record
        attachment.replace("a.pdf", "../../c.png"),
        `${attachment}\r\nSet-Cookie: session=evil`,
        "async-temp/2026/01/01/00000000-0000-0000-0000-000000000000/x.pdf",
      ]) {
        const response = await get(`/download/${FIELDS.file}/doc-a?key=${encodeURIComponent(key)}`);
        expect(response.status, key).toBe(404);
        expect(response.headers.get("location")).toBeNull();
        expect(response.headers.get("set-cookie")).toBeNull();
      }
      expectOwnLocation(await get(`/download/${FIELDS.file}/doc-a?key=${encodeURIComponent(attachment)}`));
    });

    it("active content is served inert: octet-stream, attachment (and on our own route nosniff and a sandbox)", async () => {
      h.records.set("doc-html", { owner: "alice", keys: {} });
      h.records.set("doc-gif", { owner: "alice", keys: {} });
      // A field that accepts anything takes HTML; an image field takes a GIF/JavaScript polyglot.
      await h.save("alice", "doc-html", FIELDS.file, await h.uploaded(FIELDS.file, text("<html><script>alert(1)</script>"), { filename: "page.html", contentType: "text/html" }));
      const polyglot = text("GIF89a/*\x01\x00\x01\x00\x00\x00\x00;*/=0;alert(document.domain)//");
      await h.save("alice", "doc-gif", FIELDS.image, await h.uploaded(FIELDS.image, polyglot, { filename: "p.gif", contentType: "image/gif" }));
      for (const [field, record] of [[FIELDS.file, "doc-html"], [FIELDS.image, "doc-gif"]] as const) {
        const url = expectOwnLocation(await get(`/download/${field}/${record}`));
        const file = backendName === "filesystem" ? await get(url.pathname, { as: null }) : await fetch(url);
        expect(file.status).toBe(200);
        expect(file.headers.get("content-type")).toBe("application/octet-stream");
        expect(file.headers.get("content-disposition")).toMatch(/^attachment;/);
        if (backendName === "filesystem") {
          expect(file.headers.get("x-content-type-options")).toBe("nosniff");
          expect(file.headers.get("content-security-policy")).toBe("default-src 'none'; sandbox");
          expect(file.headers.get("cache-control")).toBe("private, no-store");
        }
      }
    });

    it.runIf(backendName === "filesystem")("a download URL dies with its lifetime (60 s here)", async () => {
      const url = expectOwnLocation(await get(`/download/${FIELDS.file}/doc-a`));
      const claims = JSON.parse(Buffer.from(url.pathname.split("/").pop()!.split(".")[0]!, "base64url").toString()) as { expiresAt: number };
      expect(claims.expiresAt - Date.now()).toBeLessThanOrEqual(60_000);
      expect(claims.expiresAt - Date.now()).toBeGreaterThan(50_000);
    });
  });
}
