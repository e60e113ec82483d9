import { count, eq } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { asyncTempFile } from "../../../server/db/schema";
import { MiB } from "../../../server/registry";
import { isUploadUrlBatchResponse } from "../../../shared/response-guards";
import { MAX_UPLOAD_URL_BATCH } from "../../../shared/schemas";
import { createTestUploads, type TestUploads } from "../../helpers/uploads";

/** `POST /upload-url` with `{files: [...]}`: all or nothing, one insert, limits for the batch as a whole. */
const pdf = (name: string, size = 1234) => ({ fieldId: "docs.attachment", filename: name, contentType: "application/pdf", size });

describe("POST /upload-url with a batch of files", () => {
  let t: TestUploads;
  beforeAll(async () => {
    t = await createTestUploads({
      maxPendingUploadsPerPrincipal: 5,
      maxPendingBytesPerPrincipal: 10 * MiB,
      register: (uploads) => {
        uploads.registry.register("docs.attachment", { maxSize: 8 * MiB, accept: ["application/pdf"], multipartThreshold: 2 * MiB });
      },
    });
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    await t.db.delete(asyncTempFile);
  });

  const post = (body: unknown, as = "alice") =>
    t.request("/upload-url", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), as });
  const rows = async (principal = "alice") =>
    (await t.db.select({ n: count() }).from(asyncTempFile).where(eq(asyncTempFile.principal, principal)))[0]?.n;

  it("answers every file in the order asked, single and chunked, and records each", async () => {
    const response = await post({ files: [pdf("a.pdf"), { ...pdf("big.pdf", 3 * MiB), multipart: true }, pdf("c.pdf")] });
    expect(response.status).toBe(201);
    const body = await response.json();
    expect(isUploadUrlBatchResponse(body)).toBe(true);
    expect(body.uploads).toHaveLength(3);
    expect(body.uploads[0].key).toMatch(/\/a\.pdf$/);
    expect(body.uploads[0].upload.method).toBe("PUT");
    expect(body.uploads[1].key).toMatch(/\/big\.pdf$/);
    expect(body.uploads[1].multipart.partCount).toBeGreaterThanOrEqual(1);
    expect(body.uploads[2].key).toMatch(/\/c\.pdf$/);
    const stored = await t.db.select().from(asyncTempFile);
    expect(stored.map((row) => row.key).sort()).toEqual(body.uploads.map((upload: { key: string }) => upload.key).sort());
    const big = stored.find((row) => row.key === body.uploads[1].key)!;
    expect(big.uploadId).not.toBeNull();
    // The key names the row's id (commit and cleanup go by either).
    for (const row of stored) expect(row.key).toContain(row.id);
  });

  it("refuses the whole batch when one file is refused, naming every refused file, and inserts nothing", async () => {
    const response = await post({
      files: [pdf("ok.pdf"), { ...pdf("photo.png"), contentType: "image/png" }, pdf("huge.pdf", 9 * MiB), pdf("ok2.pdf")],
    });
    expect(response.status).toBe(415);
    const { error } = await response.json();
    expect(error.code).toBe("type_not_allowed");
    expect(error.files).toEqual([
      { index: 1, code: "type_not_allowed", message: expect.stringMatching(/not accepted/) },
      { index: 2, code: "file_too_large", message: expect.stringMatching(/8 MiB/) },
    ]);
    expect(error.message).toMatch(/"photo\.png" \(file 2\)/);
    expect(error.message).toMatch(/"huge\.pdf" \(file 3\)/);
    expect(await rows()).toBe(0);
  });

  it("refuses a malformed entry with its place in the message", async () => {
    const response = await post({ files: [pdf("a.pdf"), { ...pdf("b.pdf"), size: 0 }] });
    expect(response.status).toBe(400);
    const { error } = await response.json();
    expect(error.code).toBe("invalid_request");
    expect(error.message).toMatch(/^files\.1\.size: /);
    expect(await rows()).toBe(0);
  });

  it.each([
    ["no files", { files: [] }, /at least one/],
    ["too many files", { files: Array.from({ length: MAX_UPLOAD_URL_BATCH + 1 }, (_, i) => pdf(`f${i}.pdf`)) }, /at most 100/],
  ])("refuses %s with 400", async (_name, body, message) => {
    const response = await post(body);
    expect(response.status).toBe(400);
    expect((await response.json()).error.message).toMatch(message);
    expect(await rows()).toBe(0);
  });

  it("counts the batch as a whole against the number of unsaved uploads", async () => {
    expect((await post({ files: [pdf("1.pdf"), pdf("2.pdf"), pdf("3.pdf")] })).status).toBe(201);
    const refused = await post({ files: [pdf("4.pdf"), pdf("5.pdf"), pdf("6.pdf")] });
    expect(refused.status).toBe(429);
    expect((await refused.json()).error.code).toBe("too_many_uploads");
    expect(await rows()).toBe(3);
    expect((await post({ files: [pdf("4.pdf"), pdf("5.pdf")] })).status).toBe(201);
    expect(await rows()).toBe(5);
  });

  it("counts the batch as a whole against the principal's unsaved bytes", async () => {
    const refused = await post({ files: [pdf("a.pdf", 6 * MiB), pdf("b.pdf", 6 * MiB)] });
    expect(refused.status).toBe(429);
    expect((await refused.json()).error.code).toBe("too_many_pending_bytes");
    expect(await rows()).toBe(0);
  });

  it("holds the limit exactly for batches sent all at once", async () => {
    const responses = await Promise.all(Array.from({ length: 20 }, () => post({ files: [pdf("a.pdf"), pdf("b.pdf")] })));
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(2);
    expect(statuses.filter((status) => status === 429)).toHaveLength(18);
    expect(await rows()).toBe(4);
  });

  it("keeps answering single-file bodies as before", async () => {
    const response = await post(pdf("single.pdf"));
    expect(response.status).toBe(201);
    const body = await response.json();
    expect(body.key).toMatch(/\/single\.pdf$/);
    expect(body.uploads).toBeUndefined();
  });
});
