import { count } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { asyncTempFile } from "../../../server/db/schema";
import { MiB } from "../../../server/registry";
import { createTestUploads, type TestUploads } from "../../helpers/uploads";

const valid = { fieldId: "docs.attachment", filename: "report.pdf", contentType: "application/pdf", size: 1234 };

describe("POST /upload-url", () => {
  let t: TestUploads;
  beforeAll(async () => {
    t = await createTestUploads({
      maxPendingUploadsPerPrincipal: 5,
      register: (uploads) => {
        uploads.registry.register("docs.attachment", { maxSize: 10 * MiB, accept: ["application/pdf", "image/*", ".docx"] });
        uploads.registry.register("docs.locked", { maxSize: MiB, canUpload: ({ principal }) => principal === "admin" });
      },
    });
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    await t.db.delete(asyncTempFile);
  });

  const post = (body: unknown, init: { as?: string | null; headers?: Record<string, string> } = {}) =>
    t.request("/upload-url", {
      method: "POST",
      headers: { "content-type": "application/json", ...init.headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
      as: init.as,
    });
  const rows = async () => (await t.db.select({ n: count() }).from(asyncTempFile))[0]?.n;

  it("issues a filesystem upload target and records a pending row", async () => {
    const response = await post({ ...valid, instanceId: "doc-1" });
    expect(response.status).toBe(201);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = await response.json();
    expect(body.key).toMatch(/^async-temp\/\d{4}\/\d{2}\/\d{2}\/[0-9a-f-]{36}\/report\.pdf$/);
    expect(body.upload).toMatchObject({ method: "PUT", headers: { "Content-Type": "application/pdf" } });
    expect(body.upload.url).toMatch(/^\/fs\/upload\/[\w-]+\.[\w-]+$/);
    expect(Date.parse(body.expiresAt) - Date.now()).toBeGreaterThan(14 * 60_000);
    const [row] = await t.db.select().from(asyncTempFile);
    expect(row).toMatchObject({
      key: body.key, fieldId: "docs.attachment", principal: "alice", instanceId: "doc-1",
      originalFilename: "report.pdf", contentType: "application/pdf", declaredSize: 1234, status: "pending",
    });
  });

  it("accepts wildcard types and extensions, and keeps unicode names (NFC)", async () => {
    expect((await post({ ...valid, filename: "photo.JPG", contentType: "image/jpeg" })).status).toBe(201);
    expect((await post({ ...valid, filename: "cv.docx", contentType: "application/octet-stream" })).status).toBe(201);
    const decomposed = "re\u0301sume\u0301 2024.pdf";
    const body = await (await post({ ...valid, filename: decomposed })).json();
    expect(body.key.endsWith("/résumé 2024.pdf")).toBe(true);
  });

  it.each([
    ["unknown field", { ...valid, fieldId: "nope" }, 404, "unknown_field"],
    ["too large", { ...valid, size: 10 * MiB + 1 }, 413, "file_too_large"],
    ["type not accepted", { ...valid, filename: "a.exe", contentType: "application/x-msdownload" }, 415, "type_not_allowed"],
    ["missing member", { fieldId: "docs.attachment", filename: "a.pdf", size: 1 }, 400, "invalid_request"],
    ["extra member", { ...valid, key: "async-temp/mine" }, 400, "invalid_request"],
    ["size as string", { ...valid, size: "12" }, 400, "invalid_request"],
    ["negative size", { ...valid, size: -1 }, 400, "invalid_request"],
    ["zero size", { ...valid, size: 0 }, 400, "invalid_request"],
    ["fractional size", { ...valid, size: 1.5 }, 400, "invalid_request"],
    ["huge size", { ...valid, size: 2 ** 60 }, 400, "invalid_request"],
    ["traversal name", { ...valid, filename: "../../etc/passwd" }, 400, "invalid_request"],
    ["backslash name", { ...valid, filename: "..\\..\\boot.ini" }, 400, "invalid_request"],
    ["NUL in name", { ...valid, filename: "a.pdf\u0000.exe" }, 400, "invalid_request"],
    ["control char in name", { ...valid, filename: "a\u0007.pdf" }, 400, "invalid_request"],
    ["RTL override in name", { ...valid, filename: "invoice\u202Efdp.exe" }, 400, "invalid_request"],
    ["1,000 character name", { ...valid, filename: `${"a".repeat(996)}.pdf` }, 400, "invalid_request"],
    ["dots-only name", { ...valid, filename: ".." }, 400, "invalid_request"],
    ["content type with parameters", { ...valid, contentType: "application/pdf; charset=utf-8" }, 400, "invalid_request"],
    ["garbage content type", { ...valid, contentType: "<script>" }, 400, "invalid_request"],
    ["bad instance id", { ...valid, instanceId: "../other" }, 400, "invalid_request"],
    ["bad field id", { ...valid, fieldId: "a/b" }, 400, "invalid_request"],
  ])("%s → %i %s, and no row", async (_name, body, status, code) => {
    const response = await post(body);
    expect(response.status).toBe(status);
    const error = (await response.json()).error;
    expect(error.code).toBe(code);
    expect(error.message.length).toBeGreaterThan(5);
    expect(await rows()).toBe(0);
  });

  it.each([
    ["not JSON", "{nope", {}, 400, "invalid_request"],
    ["a JSON array", "[1,2]", {}, 400, "invalid_request"],
    ["form-encoded content type", JSON.stringify(valid), { "content-type": "application/x-www-form-urlencoded" }, 400, "invalid_request"],
    ["text/plain content type", JSON.stringify(valid), { "content-type": "text/plain" }, 400, "invalid_request"],
    ["a huge body", JSON.stringify({ ...valid, filename: "a".repeat(100_000) }), {}, 400, "invalid_request"],
    ["deeply nested JSON", `${"[".repeat(5000)}${"]".repeat(5000)}`, {}, 400, "invalid_request"],
    ["a foreign Origin", JSON.stringify(valid), { origin: "https://evil.example" }, 403, "forbidden"],
    ["a cross-site fetch without Origin", JSON.stringify(valid), { "sec-fetch-site": "cross-site" }, 403, "forbidden"],
  ])("%s → %i %s", async (_name, body, headers, status, code) => {
    const response = await post(body, { headers });
    expect(response.status).toBe(status);
    expect((await response.json()).error.code).toBe(code);
    expect(await rows()).toBe(0);
  });

  it("allows the page's own Origin", async () => {
    expect((await post(valid, { headers: { origin: "http://localhost" } })).status).toBe(201);
  });

  it("refuses anonymous callers with 401 and forbidden ones with 403", async () => {
    const anonymous = await post(valid, { as: null });
    expect(anonymous.status).toBe(401);
    expect((await anonymous.json()).error.code).toBe("unauthenticated");
    const forbidden = await post({ ...valid, fieldId: "docs.locked" });
    expect(forbidden.status).toBe(403);
    expect((await forbidden.json()).error.code).toBe("forbidden");
    expect((await post({ ...valid, fieldId: "docs.locked" }, { as: "admin" })).status).toBe(201);
  });

  it("limits the pending uploads of one principal with 429, not others", async () => {
    for (let i = 0; i < 5; i++) expect((await post(valid)).status).toBe(201);
    const flooded = await post(valid);
    expect(flooded.status).toBe(429);
    expect((await flooded.json()).error.code).toBe("too_many_uploads");
    expect((await post(valid, { as: "bob" })).status).toBe(201);
  });

  it("answers unknown routes with a JSON 404", async () => {
    const response = await t.request("/nope");
    expect(response.status).toBe(404);
    expect((await response.json()).error.code).toBe("not_found");
  });
});
