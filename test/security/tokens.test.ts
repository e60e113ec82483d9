import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UploadUrlResponse } from "../../shared/schemas";
import { asyncTempFile } from "../../server/db/schema";
import { s3Storage } from "../../server/storage/s3";
import { signToken } from "../../server/tokens";
import { PDF_BYTES, TEST_SECRET } from "../helpers/uploads";
import { createHarness, errorOf, FIELDS, refused, type Harness } from "./harness";

/**
 * Tokens and signatures. The filesystem backend's own tokens are checked by this app; Azure SAS
 * signatures by Azurite, which verifies them as Azure does. (s3rver does not verify SigV4, so S3
 * signatures are covered by test/server/storage/s3.test.ts against a real endpoint when configured.)
 */
describe("filesystem upload and download tokens", () => {
  let h: Harness;
  let clock = 0;
  beforeAll(async () => {
    h = await createHarness("filesystem", {
      now: () => new Date(Date.now() + clock),
      register: (uploads) => {
        // A field on another backend: a filesystem token naming it must never reach the disk.
        uploads.registry.register("docs.remote", {
          maxSize: 1024,
          storage: s3Storage({ bucket: "b", endpoint: "http://127.0.0.1:9", region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "a", secretAccessKey: "b" } }),
        });
      },
    });
  });
  afterAll(() => h?.close());

  const issue = () => h.issue({ fieldId: FIELDS.file, filename: "a.pdf", contentType: "application/pdf", size: PDF_BYTES.length });
  const tokenOf = (url: string) => url.slice(url.lastIndexOf("/") + 1);
  const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as Record<string, unknown>;
  const putTo = (token: string, bytes = PDF_BYTES) =>
    h.request(`/fs/upload/${token}`, { method: "PUT", headers: { "content-type": "application/pdf" }, body: bytes, as: null });

  it("replaying an upload URL after its file was saved is refused, and leaves no untracked file", async () => {
    const target = await issue();
    expect((await h.upload(target, PDF_BYTES)).status).toBe(201);
    await h.save("alice", "replay-1", FIELDS.file, target.key);
    expect(await h.backend.storage.stat(target.key)).toBeNull();
    const replay = await h.upload(target, PDF_BYTES);
    expect((await errorOf(replay, 403)).code).toBe("invalid_token");
    expect(await h.backend.storage.stat(target.key)).toBeNull();
  });

  it("replaying an upload URL whose row cleanup already removed is refused", async () => {
    const target = await issue();
    await h.db.delete(asyncTempFile).where(eq(asyncTempFile.key, target.key));
    expect((await errorOf(await h.upload(target, PDF_BYTES), 403)).code).toBe("invalid_token");
    expect(await h.backend.storage.stat(target.key)).toBeNull();
  });

  it("method swap on an upload URL: GET, POST, DELETE, PATCH answer 404 and write nothing; PUT still works", async () => {
    const target = await issue();
    for (const method of ["GET", "POST", "DELETE", "PATCH"]) {
      const response = await h.request(target.upload.url, { method, headers: { "content-type": "application/pdf" }, body: method === "GET" ? undefined : PDF_BYTES, as: null });
      expect((await errorOf(response, 404)).code, method).toBe("not_found");
    }
    expect(await h.backend.storage.stat(target.key)).toBeNull();
    expect((await h.upload(target, PDF_BYTES)).status).toBe(201);
  });

  it("method swap on a download URL: PUT, POST, DELETE answer 404 and the file is unchanged", async () => {
    const saved = await h.save("alice", "swap-dl", FIELDS.file, await h.uploaded(FIELDS.file, PDF_BYTES));
    const location = (await h.request(`/download/${FIELDS.file}/swap-dl`)).headers.get("location")!;
    for (const method of ["PUT", "POST", "DELETE"]) {
      const response = await h.request(location, { method, headers: { "content-type": "application/pdf" }, body: new Uint8Array(PDF_BYTES.length), as: null });
      expect(response.status, method).toBe(404);
    }
    const download = await h.request(location, { as: null });
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(PDF_BYTES);
    expect((await h.backend.storage.stat(saved.key!))?.size).toBe(PDF_BYTES.length);
  });

  it("mangled tokens are refused with 403 invalid_token, never a 500", async () => {
    const target = await issue();
    const token = tokenOf(target.upload.url);
    const [payload, signature] = token.split(".") as [string, string];
    const flipped = [...signature].map((ch) => (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase())).join("");
    const mangled = [
      `${payload}.${signature.slice(0, -2)}`, // truncated signature
      `${payload}.${signature}=`, // padding
      `${payload}.${flipped}`, // case-flipped signature
      `${payload}.${signature}.${signature}`, // extra segment
      `${payload}.`, // "alg: none"
      `.${signature}`,
      `${payload}`,
      `${Buffer.from("null").toString("base64url")}.${signature}`,
      `${payload}.${"A".repeat(65_536)}`, // 64 KiB
      `${payload}%00.${signature}`,
      encodeURIComponent(`${payload}.${signature}\r\nX-Injected: 1`),
    ];
    for (const candidate of mangled) {
      const response = await putTo(candidate);
      expect(response.status, candidate.slice(0, 60)).toBe(403);
      expect((await response.json()).error.code).toBe("invalid_token");
    }
    expect(await h.backend.storage.stat(target.key)).toBeNull();
  });

  it("an upload URL works until the millisecond it expires, and not at it", async () => {
    const target = await issue();
    const { expiresAt } = claimsOf(tokenOf(target.upload.url)) as { expiresAt: number };
    clock = expiresAt - Date.now();
    try {
      expect((await errorOf(await h.upload(target, PDF_BYTES), 403)).code).toBe("expired_token");
      expect(await h.backend.storage.stat(target.key)).toBeNull();
      clock = expiresAt - Date.now() - 1000;
      expect((await h.upload(target, PDF_BYTES)).status).toBe(201);
    } finally {
      clock = 0;
    }
  });

  it("a validly signed token for a field on another backend never touches the disk", async () => {
    const target = await issue();
    const claims = claimsOf(tokenOf(target.upload.url));
    const forged = signToken({ ...(claims as unknown as Parameters<typeof signToken>[0]), fieldId: "docs.remote" }, TEST_SECRET);
    expect((await errorOf(await putTo(forged), 403)).code).toBe("invalid_token");
    expect(await h.backend.storage.stat(target.key)).toBeNull();
  });

  it("a download token whose file name claim is edited (header injection) is refused", async () => {
    await h.save("alice", "dl-name", FIELDS.file, await h.uploaded(FIELDS.file, PDF_BYTES, { filename: "a.pdf" }));
    const location = (await h.request(`/download/${FIELDS.file}/dl-name`)).headers.get("location")!;
    const [payload, signature] = tokenOf(location).split(".") as [string, string];
    const claims = claimsOf(`${payload}.${signature}`);
    const edited = Buffer.from(JSON.stringify({ ...claims, filename: 'x.html"\r\nContent-Type: text/html\r\n\r\n<script>' })).toString("base64url");
    const response = await h.request(`/fs/download/${edited}.${signature}`, { as: null });
    expect((await errorOf(response, 403)).code).toBe("invalid_token");
  });

  it("a download URL stops working once its file is replaced (404, not another file)", async () => {
    const first = await h.save("alice", "dl-gone", FIELDS.file, await h.uploaded(FIELDS.file, PDF_BYTES));
    const location = (await h.request(`/download/${FIELDS.file}/dl-gone`)).headers.get("location")!;
    await h.save("alice", "dl-gone", FIELDS.file, await h.uploaded(FIELDS.file, PDF_BYTES));
    expect(await h.backend.storage.stat(first.key!)).toBeNull();
    expect((await errorOf(await h.request(location, { as: null }), 404)).code).toBe("not_found");
  });
});

describe("Azure SAS signatures (verified by Azurite)", () => {
  let h: Harness;
  let target: UploadUrlResponse;
  beforeAll(async () => {
    h = await createHarness("azure");
    target = await h.issue({ fieldId: FIELDS.file, filename: "a.pdf", contentType: "application/pdf", size: PDF_BYTES.length });
  });
  afterAll(() => h?.close());

  const withParam = (url: string, name: string, value: string) => {
    const edited = new URL(url);
    edited.searchParams.set(name, value);
    return edited.toString();
  };
  const put = (url: string) => fetch(url, { method: "PUT", headers: target.upload.headers, body: PDF_BYTES });

  it.each([
    ["widened permissions (sp=c → sp=cw)", () => withParam(target.upload.url, "sp", "cw")],
    ["all permissions (sp=racwd)", () => withParam(target.upload.url, "sp", "racwd")],
    ["a later expiry", () => withParam(target.upload.url, "se", new Date(Date.now() + 86_400_000).toISOString().replace(/\.\d+Z$/, "Z"))],
    ["another blob name", () => target.upload.url.replace("/a.pdf?", "/b.pdf?")],
    ["a blob outside the temp prefix", () => target.upload.url.replace(/\/async-temp\/[^?]+\?/, "/docs.file/victim/a.pdf?")],
    ["a container-wide resource (sr=c)", () => withParam(target.upload.url, "sr", "c")],
    ["no signature", () => target.upload.url.replace(/&sig=[^&]+/, "")],
  ])("a tampered upload SAS is refused by the service: %s", async (_label, tamper) => {
    const before = await h.backend.list();
    const response = await put(tamper());
    expect(response.status).toBe(403);
    expect(await h.backend.list()).toEqual(before);
  });

  it("the upload SAS cannot read, delete or overwrite its blob", async () => {
    expect((await put(target.upload.url)).status).toBe(201);
    expect((await fetch(target.upload.url)).status).toBe(403);
    expect((await fetch(target.upload.url, { method: "DELETE" })).status).toBe(403);
    const other = new Uint8Array(PDF_BYTES.length).fill(0x41);
    expect((await fetch(target.upload.url, { method: "PUT", headers: target.upload.headers, body: other })).status).toBe(403);
    expect(await h.backend.storage.readFirstBytes(target.key, 1024)).toEqual(PDF_BYTES);
  });

  it("a download SAS cannot write, and its response headers cannot be changed", async () => {
    h.records.set("az-1", { owner: "alice", keys: {} });
    const saved = await h.save("alice", "az-1", FIELDS.file, target.key);
    const location = (await h.request(`/download/${FIELDS.file}/az-1`)).headers.get("location")!;
    expect((await fetch(location, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob" }, body: "evil" })).status).toBe(403);
    expect((await fetch(location, { method: "DELETE" })).status).toBe(403);
    for (const [name, value] of [["rsct", "text/html"], ["rscd", "inline"]] as const) {
      expect((await fetch(withParam(location, name, value))).status, name).toBe(403);
    }
    const download = await fetch(location);
    expect(download.status).toBe(200);
    expect(download.headers.get("content-disposition")).toMatch(/^attachment;/);
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(PDF_BYTES);
    expect(await h.backend.storage.stat(saved.key!)).toMatchObject({ size: PDF_BYTES.length });
  });

  it("a replayed upload SAS after the save: Azure cannot refuse it, but the object can never be saved", async () => {
    // The temp blob was deleted after the save, so the create-only SAS may create it once more.
    expect(await h.backend.storage.stat(target.key)).toBeNull();
    expect((await put(target.upload.url)).status).toBe(201);
    await refused(h.save("alice", "az-2", FIELDS.file, target.key));
    // Such strays have no row: a lifecycle rule on the temp prefix removes them (SECURITY.md).
    expect(await h.rowOf(target.key)).toBeUndefined();
  });
});
