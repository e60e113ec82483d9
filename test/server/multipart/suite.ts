import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, UploadPartCommand } from "@aws-sdk/client-s3";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { partRange, type MultipartUploadUrlResponse, type PartTarget } from "../../../shared/multipart";
import { cleanupTempFiles } from "../../../server/cleanup/cleanup-temp-files";
import { mapWithConcurrency } from "../../../server/cleanup/async-utils";
import { asyncTempFile } from "../../../server/db/schema";
import { AsyncUploadsError } from "../../../server/errors";
import type { FilesystemStorage } from "../../../server/storage/filesystem";
import { FIELDS, randomContent, sha256, smallPartSize, startBackend, startMultipartApp, type BackendName, type MultipartApp } from "./harness";

const HOUR = 60 * 60 * 1000;

/** Sends the given parts, 4 at a time; returns the ETag each answered with (S3). */
export async function sendParts(app: MultipartApp, upload: MultipartUploadUrlResponse, bytes: Uint8Array, numbers: number[], as?: string) {
  const etags = new Map<number, string | undefined>();
  const targets = await app.sign(upload.key, numbers, as);
  await mapWithConcurrency(targets, 4, async (target) => {
    const result = await app.sendPart(target, slice(upload, bytes, target.partNumber));
    if (result === "cut" || result.status < 200 || result.status > 299) throw new Error(`part ${target.partNumber}: ${JSON.stringify(result)}`);
    etags.set(target.partNumber, result.etag);
  });
  return etags;
}

export function slice(upload: MultipartUploadUrlResponse, bytes: Uint8Array, partNumber: number): Uint8Array {
  const { offset, size } = partRange(partNumber, upload.multipart.partSize, bytes.length);
  return bytes.subarray(offset, offset + size);
}

/** The part list a browser sends at the end: every part in order, with its ETag where storage gave one. */
export function partList(etags: Map<number, string | undefined>) {
  return [...etags.keys()].sort((a, b) => a - b).map((partNumber) => ({ partNumber, ...(etags.get(partNumber) ? { etag: etags.get(partNumber) } : {}) }));
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Saves the upload as a form would, and reads the committed file back. */
export async function commitAndRead(app: MultipartApp, key: string, size: number, fieldId: string = FIELDS.small.id) {
  const result = await app.uploads.transaction((_tx, commit) => commit({ fieldId, value: key, principal: "alice", instanceId: "doc-1" }));
  const bytes = await app.backend.storage.readFirstBytes(result.key!, size);
  return { key: result.key!, bytes: bytes! };
}

/** The chunked-upload cases every backend must pass, against the real service (emulator) and over real HTTP. */
export function describeMultipart(name: BackendName): void {
  describe(`chunked uploads on ${name}`, () => {
    let app: MultipartApp;
    let clock = 0;
    const uuidOf = (key: string) => key.split("/")[4]!;
    /** What storage holds of an upload under the temp prefix: its object, staged parts, incomplete uploads. */
    const leftoversOf = async (key: string) =>
      (await app.backend.leftovers()).filter((entry) => entry.includes(uuidOf(key)) && entry.includes("async-temp/"));
    const rowOf = async (key: string) => (await app.uploads.db.select().from(asyncTempFile).where(eq(asyncTempFile.key, key)))[0];
    const errorOf = async (response: Response, status: number) => {
      expect(response.status).toBe(status);
      return ((await response.json()) as { error: { code: string; message: string } }).error;
    };
    // 5 parts (256 KiB, or 5 MiB on S3), the last one shorter.
    const PART = smallPartSize(name);
    const SIZE = 4 * PART + 1000;

    beforeAll(async () => {
      app = await startMultipartApp(await startBackend(name), { now: () => new Date(Date.now() + clock) });
    });
    afterAll(async () => {
      await app?.close();
      await app?.backend.close();
    });

    it("answers a part plan for a large file when the browser can do parts, and a single upload otherwise", async () => {
      const upload = await app.start(FIELDS.small.id, SIZE);
      expect(upload.multipart).toMatchObject({ partSize: PART, partCount: 5 });
      expect(upload.multipart.uploadId).not.toBe("");
      expect(Date.parse(upload.expiresAt) - Date.now()).toBeGreaterThan(23 * HOUR);
      expect(await rowOf(upload.key)).toMatchObject({ uploadId: upload.multipart.uploadId, partSize: PART });
      const request = { fieldId: FIELDS.small.id, filename: "a.bin", contentType: "application/octet-stream" };
      const single = await (await app.post("/upload-url", { ...request, size: SIZE })).json();
      expect(single).toHaveProperty("upload");
      expect(single).not.toHaveProperty("multipart");
      const small = await (await app.post("/upload-url", { ...request, size: 2 * PART - 1, multipart: true })).json();
      expect(small).toHaveProperty("upload");
    });

    it("survives a connection cut in the middle of a part: lists what arrived, sends the rest, commits the same bytes", async () => {
      const content = randomContent(SIZE);
      const upload = await app.start(FIELDS.small.id, SIZE);
      const etags = await sendParts(app, upload, content.bytes, [1, 2, 4]);
      const [third] = await app.sign(upload.key, [3]);
      expect(await app.sendPart(third!, slice(upload, content.bytes, 3), { cutAfter: 100 * 1024 })).toBe("cut");

      // As after a reload: ask the server what storage holds, and send only the rest.
      const listed = await app.list(upload.key);
      expect(listed).toMatchObject({ partSize: upload.multipart.partSize, partCount: 5, expiresAt: upload.expiresAt });
      expect(listed.parts.map((part) => [part.partNumber, part.size])).toEqual([[1, PART], [2, PART], [4, PART]]);
      if (name === "s3") expect(listed.parts.map((part) => part.etag)).toEqual([etags.get(1), etags.get(2), etags.get(4)]);
      const held = new Set(listed.parts.map((part) => part.partNumber));
      const rest = await sendParts(app, upload, content.bytes, range(1, 5).filter((n) => !held.has(n)));
      expect([...rest.keys()].sort()).toEqual([3, 5]);

      const completed = await app.complete(upload.key, partList(new Map([...etags, ...rest])));
      expect(completed.status).toBe(200);
      expect(await completed.json()).toEqual({ key: upload.key });
      expect(await rowOf(upload.key)).toMatchObject({ uploadId: null, partSize: null });
      const saved = await commitAndRead(app, upload.key, SIZE);
      expect(saved.bytes.length).toBe(SIZE);
      expect(sha256(saved.bytes)).toBe(content.sha256);
      // Nothing of the upload is left at its temp key: parts assembled, temp object deleted after commit.
      expect(await leftoversOf(upload.key)).toEqual([]);
    });

    it("answers a repeated completion (its first answer was lost) with the same key", async () => {
      const content = randomContent(SIZE);
      const upload = await app.start(FIELDS.small.id, SIZE);
      const parts = partList(await sendParts(app, upload, content.bytes, range(1, 5)));
      expect((await app.complete(upload.key, parts)).status).toBe(200);
      const again = await app.complete(upload.key, parts);
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({ key: upload.key });
      // An earlier completion lost in a crash before the row was updated is recognised too.
      await app.uploads.db.update(asyncTempFile).set({ uploadId: upload.multipart.uploadId, partSize: PART }).where(eq(asyncTempFile.key, upload.key));
      expect((await app.complete(upload.key, parts)).status).toBe(200);
      expect((await rowOf(upload.key))?.uploadId).toBeNull();
      expect(sha256((await commitAndRead(app, upload.key, SIZE)).bytes)).toBe(content.sha256);
    });

    describe("completion refuses a part list that does not describe the staged parts", () => {
      let content: { bytes: Uint8Array; sha256: string };
      let upload: MultipartUploadUrlResponse;
      let etags: Map<number, string | undefined>;
      beforeAll(async () => {
        content = randomContent(SIZE);
        upload = await app.start(FIELDS.small.id, SIZE);
        etags = await sendParts(app, upload, content.bytes, [1, 2, 3, 5]);
      });
      const refusal = async (parts: Array<{ partNumber: number; etag?: string }>, message: RegExp) => {
        const error = await errorOf(await app.complete(upload.key, parts), 422);
        expect(error.code).toBe("invalid_upload");
        expect(error.message).toMatch(message);
        // Still open: nothing was assembled, and the upload can be fixed and completed.
        expect((await rowOf(upload.key))?.uploadId).not.toBeNull();
        expect(await app.backend.storage.stat(upload.key)).toBeNull();
      };
      const all = () => partList(new Map([[4, undefined], ...etags]));

      it("parts out of order", async () => {
        const [first, second, ...others] = all();
        await refusal([second!, first!, ...others], /ascending order: part 1 comes after part 2/);
        await refusal([all()[0]!, ...all()], /ascending order/);
      });

      it("a part missing from the list, or one the plan does not have", async () => {
        await refusal(all().filter((part) => part.partNumber !== 2), /missing part 2 of 5/);
        await refusal([...all(), { partNumber: 6 }], /has 5 parts; there is no part 6/);
      });

      it("a part that never arrived in storage", async () => {
        await refusal(all(), /Part 4 never arrived/);
      });

      it("a part of the wrong size, too small for the storage, or a total that is not the declared size", async () => {
        etags.set(4, await stagePart(upload, 4, slice(upload, content.bytes, 4).subarray(0, 1000)));
        await refusal(all(), new RegExp(`Part 4 has 1000 bytes but must have exactly ${PART}`));
        etags.set(4, await stagePart(upload, 4, slice(upload, content.bytes, 4)));
        etags.set(5, await stagePart(upload, 5, new Uint8Array(1001)));
        await refusal(all(), new RegExp(`The parts add up to ${SIZE + 1} bytes, but the file has ${SIZE}`));
        etags.set(5, await stagePart(upload, 5, slice(upload, content.bytes, 5)));
      });

      it.runIf(name === "s3")("a part whose ETag is not the one storage holds (it was sent again since)", async () => {
        const parts = all().map((part) => (part.partNumber === 2 ? { ...part, etag: '"0123456789abcdef0123456789abcdef"' } : part));
        await refusal(parts, /Part 2 in storage is not the part that was sent/);
      });

      it("and completes once the list is right; commit refused the open upload until then", async () => {
        const save = app.uploads.transaction((_tx, commit) => commit({ fieldId: FIELDS.small.id, value: upload.key, principal: "alice", instanceId: "d" }));
        const error = await save.then(() => null, (caught: unknown) => caught);
        expect(error).toBeInstanceOf(AsyncUploadsError);
        expect((error as Error).message).toMatch(/not finished uploading/);
        const fresh = await app.list(upload.key);
        expect((await app.complete(upload.key, partList(new Map(fresh.parts.map((part) => [part.partNumber, part.etag]))))).status).toBe(200);
        expect(sha256((await commitAndRead(app, upload.key, SIZE)).bytes)).toBe(content.sha256);
      });
    });

    it("the part route (filesystem) or the signed URL (S3) limits each part to its size", async () => {
      const upload = await app.start(FIELDS.small.id, SIZE);
      const [target] = await app.sign(upload.key, [1]);
      const url = new URL(target!.url, app.origin);
      if (name === "s3") {
        // The part's length is signed, and RGW (as S3) refuses a body of any other length.
        expect(url.searchParams.get("X-Amz-SignedHeaders")?.split(";")).toContain("content-length");
        expect(url.searchParams.get("partNumber")).toBe("1");
        expect(await app.sendPart(target!, new Uint8Array(PART + 1))).toMatchObject({ status: 403 });
        expect(await app.sendPart(target!, new Uint8Array(1000))).toMatchObject({ status: 403 });
        expect((await app.list(upload.key)).parts).toEqual([]);
      } else if (name === "azure") {
        // A SAS cannot pin a size: every block's size is checked at completion (above).
        expect(url.searchParams.get("sp")).toBe("w");
        expect(url.searchParams.get("sr")).toBe("b");
        expect(url.searchParams.get("comp")).toBe("block");
        expect(Date.parse(url.searchParams.get("se") ?? "") - Date.now()).toBeLessThanOrEqual(15 * 60_000 + 1000);
      } else {
        expect(url.pathname).toMatch(/^\/uploads\/fs\/upload-part\/[\w-]+\.[\w-]+$/);
        const tooLong = await app.sendPart(target!, new Uint8Array(PART + 1));
        expect(tooLong).toMatchObject({ status: 413 });
        const tooShort = await app.sendPart(target!, new Uint8Array(1000));
        expect(tooShort).toMatchObject({ status: 400 });
        expect((await app.list(upload.key)).parts).toEqual([]);
      }
    });

    it.runIf(name === "filesystem")("refuses an expired part URL with 403, and takes the part with a URL signed again", async () => {
      const content = randomContent(SIZE);
      const upload = await app.start(FIELDS.small.id, SIZE);
      const [stale] = await app.sign(upload.key, [1]);
      clock = 16 * 60_000;
      try {
        expect(await app.sendPart(stale!, slice(upload, content.bytes, 1))).toMatchObject({ status: 403 });
        const [fresh] = await app.sign(upload.key, [1]);
        expect(await app.sendPart(fresh!, slice(upload, content.bytes, 1))).toMatchObject({ status: 201 });
      } finally {
        clock = 0;
      }
      expect((await app.list(upload.key)).parts).toEqual([{ partNumber: 1, size: PART }]);
    });

    it.runIf(name === "s3")("an upload the storage no longer has (aborted, or completed, behind the app's back) is abandoned, not a 500", async () => {
      // RGW answers ListParts for a gone upload with 404 NoSuchKey, S3 with NoSuchUpload.
      const { s3, s3Client } = app.backend;
      const content = randomContent(SIZE);
      const aborted = await app.start(FIELDS.small.id, SIZE);
      const etags = await sendParts(app, aborted, content.bytes, [1]);
      await s3Client!.send(new AbortMultipartUploadCommand({ Bucket: s3!.bucket, Key: aborted.key, UploadId: aborted.multipart.uploadId }));
      for (const response of [await app.post("/multipart/list-parts", { key: aborted.key }), await app.complete(aborted.key, partList(etags))]) {
        expect(await errorOf(response, 422)).toMatchObject({ code: "invalid_upload", message: expect.stringMatching(/abandoned/) });
      }
      // Completed in storage, but the row still open (the app crashed before noting it): listing finds
      // nothing to resume, and completing recognises the assembled object.
      const completed = await app.start(FIELDS.small.id, SIZE);
      const parts = partList(await sendParts(app, completed, content.bytes, range(1, 5)));
      await s3Client!.send(
        new CompleteMultipartUploadCommand({
          Bucket: s3!.bucket,
          Key: completed.key,
          UploadId: completed.multipart.uploadId,
          MultipartUpload: { Parts: parts.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag })) },
        }),
      );
      expect(await errorOf(await app.post("/multipart/list-parts", { key: completed.key }), 422)).toMatchObject({ code: "invalid_upload" });
      expect((await app.complete(completed.key, parts)).status).toBe(200);
      expect(sha256((await commitAndRead(app, completed.key, SIZE)).bytes)).toBe(content.sha256);
    });

    it("only the principal who started an upload may sign, list, complete or cancel it", async () => {
      const upload = await app.start(FIELDS.small.id, SIZE);
      for (const [path, body] of [
        ["/multipart/sign-parts", { key: upload.key, partNumbers: [1] }],
        ["/multipart/list-parts", { key: upload.key }],
        ["/multipart/complete", { key: upload.key, parts: [{ partNumber: 1 }] }],
        ["/multipart/abort", { key: upload.key }],
      ] as const) {
        expect((await errorOf(await app.post(path, body, "mallory"), 404)).code).toBe("not_found");
        expect((await errorOf(await app.post(path, { ...body, key: `${upload.key}x` }), 404)).code).toBe("not_found");
      }
      const anonymous = await fetch(`${app.origin}/uploads/multipart/list-parts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ key: upload.key }),
      });
      expect((await errorOf(anonymous, 401)).code).toBe("unauthenticated");
      expect((await rowOf(upload.key))?.status).toBe("pending");
    });

    it("signs at most 100 parts at a time, only parts of the plan, with URLs that expire with the upload URL lifetime", async () => {
      const upload = await app.start(FIELDS.small.id, SIZE);
      const sign = (partNumbers: unknown) => app.post("/multipart/sign-parts", { key: upload.key, partNumbers });
      expect((await errorOf(await sign([6]), 400)).message).toMatch(/no part 6/);
      expect((await errorOf(await sign(range(1, 101)), 400)).message).toMatch(/at most 100/);
      expect((await errorOf(await sign([1, 1]), 400)).message).toMatch(/twice/);
      expect((await errorOf(await sign([0]), 400)).code).toBe("invalid_request");
      for (const key of [`${upload.key}\u0000`, "\ud800", "", "k".repeat(1025)]) {
        expect((await errorOf(await app.post("/multipart/list-parts", { key }), 400)).code).toBe("invalid_request");
      }
      const signed = (await (await sign([5, 1])).json()) as { parts: PartTarget[]; expiresAt: string };
      expect(signed.parts.map((part) => part.partNumber)).toEqual([5, 1]);
      expect(Math.abs(Date.parse(signed.expiresAt) - Date.now() - 15 * 60_000)).toBeLessThan(5000);
    });

    it("cancel discards the staged parts at once; cleanup then leaves nothing of the upload behind", async () => {
      const content = randomContent(SIZE);
      const upload = await app.start(FIELDS.small.id, SIZE);
      await sendParts(app, upload, content.bytes, [1, 2]);
      expect((await leftoversOf(upload.key)).length).toBeGreaterThan(0);
      const canceled = await app.post("/multipart/abort", { key: upload.key });
      expect(canceled.status).toBe(204);
      expect(await rowOf(upload.key)).toMatchObject({ status: "canceled" });
      expect(await leftoversOf(upload.key)).toEqual([]);
      // Nothing can continue it.
      expect((await errorOf(await app.post("/multipart/sign-parts", { key: upload.key, partNumbers: [3] }), 422)).code).toBe("invalid_upload");
      expect((await errorOf(await app.complete(upload.key, [{ partNumber: 1 }]), 422)).code).toBe("invalid_upload");
      await runCleanup();
      expect(await rowOf(upload.key)).toBeUndefined();
      expect(await leftoversOf(upload.key)).toEqual([]);
    });

    it("cleanup aborts a chunked upload the browser abandoned (parts staged, never completed)", async () => {
      const content = randomContent(SIZE);
      const upload = await app.start(FIELDS.small.id, SIZE);
      await sendParts(app, upload, content.bytes, [1, 3]);
      expect((await leftoversOf(upload.key)).length).toBeGreaterThan(0);
      const summary = await runCleanup();
      expect(summary.failures).toEqual([]);
      expect(await rowOf(upload.key)).toBeUndefined();
      expect(await leftoversOf(upload.key)).toEqual([]);
    });

    /** Cleanup as it runs a day later. */
    async function runCleanup() {
      return cleanupTempFiles(app.uploads, { now: () => new Date(Date.now() + 25 * HOUR), fieldIds: [FIELDS.small.id] });
    }

    /** Puts a part into storage as it is, bypassing the size checks of the part route and of S3's signed URL. */
    async function stagePart(upload: MultipartUploadUrlResponse, partNumber: number, bytes: Uint8Array): Promise<string | undefined> {
      if (name === "filesystem") {
        await (app.backend.storage as FilesystemStorage).multipart.writePart(upload.key, partNumber, [bytes], bytes.length);
        return undefined;
      }
      if (name === "s3") {
        // The signed part URL takes only the planned length (RGW enforces it, as S3); a part of another
        // size can only come from a service that does not check, played here with our own client.
        const { s3, s3Client } = app.backend;
        const command = new UploadPartCommand({ Bucket: s3!.bucket, Key: upload.key, UploadId: upload.multipart.uploadId, PartNumber: partNumber, Body: bytes });
        return (await s3Client!.send(command)).ETag;
      }
      const [target] = await app.sign(upload.key, [partNumber]);
      const result = await app.sendPart(target!, bytes);
      expect(result).toMatchObject({ status: name === "azure" ? 201 : 200 });
      return result === "cut" ? undefined : result.etag;
    }
  });
}
