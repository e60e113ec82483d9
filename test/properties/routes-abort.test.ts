import { readdir } from "node:fs/promises";
import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asyncTempFile } from "../../server/db/schema";
import { MiB } from "../../server/registry";
import { BACKENDS, startBackend, type TestBackend } from "../helpers/backends";
import { uploadLikeBrowser } from "../server/storage/contract";
import { FIELDS, randomContent, startMultipartApp, type Backend, type MultipartApp } from "../server/multipart/harness";

/**
 * Canceling (`multipart/abort`) frees the principal's pending slot, so it must also free the bytes at
 * once: before the fix, the staged parts went but an assembled object, or a single upload that had
 * arrived, stayed until cleanup, and a loop of upload → cancel stored without bound.
 */
describe.each(BACKENDS)("cancel removes what was stored, at once (%s)", (name) => {
  let backend: Backend;
  let app: MultipartApp;
  beforeAll(async () => {
    // The service's own part minimum (RGW enforces S3's 5 MiB), unlike test/server/multipart's harness.
    backend = withLeftovers(await startBackend(name, { bucket: "abort-loop" }));
    app = await startMultipartApp(backend);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await backend?.close();
  });

  // Chunked from twice the part size: parts of 5 MiB on S3 (RGW will not assemble smaller ones), 256 KiB elsewhere.
  const SIZE = name === "s3" ? 10.5 * MiB : 600 * 1024;
  const abort = (key: string) => app.post("/multipart/abort", { key });

  async function sendAllParts(key: string, bytes: Uint8Array, partSize: number, partCount: number) {
    const targets = await app.sign(key, Array.from({ length: partCount }, (_, i) => i + 1));
    const parts: Array<{ partNumber: number; etag?: string }> = [];
    for (const target of targets) {
      const offset = (target.partNumber - 1) * partSize;
      const sent = await app.sendPart(target, bytes.subarray(offset, offset + partSize));
      if (sent === "cut" || sent.status >= 300) throw new Error(`part ${target.partNumber}: ${JSON.stringify(sent)}`);
      parts.push({ partNumber: target.partNumber, ...(sent.etag ? { etag: sent.etag } : {}) });
    }
    return parts;
  }

  it("a loop of upload → cancel leaves nothing in storage, and no open row", async () => {
    for (let round = 0; round < (name === "s3" ? 2 : 3); round++) {
      // Parts staged, never completed.
      const staged = await app.start(FIELDS.small.id, SIZE);
      await sendAllParts(staged.key, randomContent(SIZE).bytes, staged.multipart.partSize, staged.multipart.partCount);
      // Parts assembled into the object by `complete`, then canceled.
      const completed = await app.start(FIELDS.small.id, SIZE);
      const parts = await sendAllParts(completed.key, randomContent(SIZE).bytes, completed.multipart.partSize, completed.multipart.partCount);
      expect((await app.complete(completed.key, parts)).status).toBe(200);
      expect(await backend.list()).toContain(completed.key);
      // A single upload (below the chunked threshold) that arrived whole.
      const single = await app.post("/upload-url", { fieldId: FIELDS.small.id, filename: "small.bin", contentType: "application/octet-stream", size: 1000 });
      expect(single.status).toBe(201);
      const target = (await single.json()) as { key: string; upload: Parameters<typeof uploadLikeBrowser>[0] };
      const url = new URL(target.upload.url, `${app.origin}/uploads/`).href;
      expect((await uploadLikeBrowser({ ...target.upload, url }, randomContent(1000).bytes as Uint8Array<ArrayBuffer>, "application/octet-stream")).ok).toBe(true);
      expect(await backend.list()).toContain(target.key);

      for (const key of [staged.key, completed.key, target.key]) {
        expect((await abort(key)).status).toBe(204);
        const [row] = await app.uploads.db.select().from(asyncTempFile).where(eq(asyncTempFile.key, key));
        expect(row?.status).toBe("canceled");
      }
      expect(await backend.leftovers()).toEqual([]);
    }
  });
});

/** What the service holds, unfinished chunked uploads and staged blocks included. */
function withLeftovers(backend: TestBackend): Backend {
  async function leftovers(): Promise<string[]> {
    const { s3, s3Client, container, root } = backend;
    if (s3 && s3Client) {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html (RGW has it; s3rver had not)
      const open = await s3Client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }));
      return [...(await backend.list()), ...(open.Uploads ?? []).map((upload) => `unfinished upload of ${upload.Key}`)];
    }
    if (container) {
      const names: string[] = [];
      for await (const blob of container.listBlobsFlat({ includeUncommitedBlobs: true })) names.push(blob.name);
      return names;
    }
    return (await readdir(root!, { recursive: true })).map(String);
  }
  return Object.assign(backend, { leftovers, started: () => {} });
}
