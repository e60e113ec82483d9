import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PartTarget } from "../../shared/multipart";
import { FIELDS, randomContent, startBackend, startMultipartApp, type Backend, type MultipartApp } from "../server/multipart/harness";

/**
 * A part that arrives while `complete` (or a cancel) runs meets an upload that stops taking parts
 * half-way through its body. Before the fix the filesystem part route answered 500 (the parts
 * directory, and the part's staging file in it, went away under the write); now it is a 409 with a
 * code, and the part leaves nothing behind.
 */
describe("a part that arrives while the upload is completed or canceled (filesystem)", () => {
  let backend: Backend;
  let app: MultipartApp;
  beforeAll(async () => {
    backend = await startBackend("filesystem");
    app = await startMultipartApp(backend);
  });
  afterAll(async () => {
    await app?.close();
    await backend?.close();
  });

  const SIZE = 600 * 1024;

  /** Starts sending a part (or a whole single upload): half its body now, the rest when `finish` is called. */
  function slowPart(target: PartTarget, bytes: Uint8Array, headers: Record<string, string> = {}) {
    const body = Buffer.from(bytes);
    let answer!: Promise<{ status: number; body: string }>;
    const request = httpRequest(new URL(target.url, `${app.origin}/uploads/`), { method: "PUT", headers: { ...headers, "content-length": String(body.length) } });
    answer = new Promise((resolve, reject) => {
      request.on("response", (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode!, body: Buffer.concat(chunks).toString() }));
      });
      request.on("error", reject);
    });
    const half = Math.floor(body.length / 2);
    const started = new Promise<void>((resolve) => request.write(body.subarray(0, half), () => resolve()));
    return {
      started,
      finish: () => {
        request.end(body.subarray(half));
        return answer;
      },
    };
  }

  it("a single upload canceled while its bytes arrive: 409 with a code, and nothing stored", async () => {
    const size = 300 * 1024;
    const response = await app.post("/upload-url", { fieldId: FIELDS.small.id, filename: "one.bin", contentType: "application/octet-stream", size });
    const target = (await response.json()) as { key: string; upload: PartTarget };
    const upload = slowPart({ ...target.upload, partNumber: 0 }, randomContent(size).bytes, target.upload.headers);
    await upload.started;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await app.post("/multipart/abort", { key: target.key })).status).toBe(204);
    const answer = await upload.finish();
    expect(answer.status).toBe(409);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: "already_uploaded", message: expect.stringMatching(/canceled/) } });
    expect((await backend.leftovers()).filter((path) => path.includes(target.key.split("/")[4]!))).toEqual([]);
  });

  async function uploadAllParts() {
    const { bytes } = randomContent(SIZE);
    const upload = await app.start(FIELDS.small.id, SIZE);
    const { partSize, partCount } = upload.multipart;
    const targets = await app.sign(upload.key, Array.from({ length: partCount }, (_, i) => i + 1));
    for (const target of targets) {
      const offset = (target.partNumber - 1) * partSize;
      expect(await app.sendPart(target, bytes.subarray(offset, offset + partSize))).toMatchObject({ status: 201 });
    }
    return { upload, targets, bytes, partSize };
  }

  it.each([
    ["complete", (key: string, parts: number) => app.complete(key, Array.from({ length: parts }, (_, i) => ({ partNumber: i + 1 }))), 200],
    ["cancel", (key: string) => app.post("/multipart/abort", { key }), 204],
  ] as const)("while %s runs: 409 with a code, and no part left behind", async (_label, closeUpload, closedStatus) => {
    const { upload, targets, bytes, partSize } = await uploadAllParts();
    // Part 1 again (a retry the browser thought lost), its body only half sent when the upload closes.
    const part = slowPart(targets[0]!, bytes.subarray(0, partSize));
    await part.started;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await closeUpload(upload.key, targets.length)).status).toBe(closedStatus);
    const answer = await part.finish();
    expect(answer.status).toBe(409);
    const { error } = JSON.parse(answer.body) as { error: { code: string; message: string } };
    expect(error.code).toBe("already_uploaded");
    expect(error.message).toMatch(/no more parts/);
    // Only the assembled object (complete) or nothing at all (cancel): no parts directory, no staging file.
    const left = (await backend.leftovers()).filter((path) => path.includes(upload.key.split("/")[4]!));
    expect(left.filter((path) => path.includes(".parts") || path.includes(".upload-") || path.includes(".partial-"))).toEqual([]);
  });
});
