import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mapWithConcurrency } from "../../../server/cleanup/async-utils";
import { MiB } from "../../../server/registry";
import { FIELDS, randomContent, sha256, startBackend, startMultipartApp, type MultipartApp } from "./harness";
import { commitAndRead, partList, sendParts, slice } from "./suite";

const SIZE = 200 * MiB;

// 200 MiB in 25 parts of 8 MiB, 4 at a time over real HTTP, one of them cut off halfway; on the
// filesystem, on s3rver and on Azurite.
describe.each(["filesystem", "s3", "azure"] as const)("a 200 MiB chunked upload on %s", (name) => {
  let app: MultipartApp;
  let content: ReturnType<typeof randomContent>;
  beforeAll(async () => {
    app = await startMultipartApp(await startBackend(name));
    content = randomContent(SIZE);
  });
  afterAll(async () => {
    await app?.close();
    await app?.backend.close();
  });

  it("survives a connection cut in the middle, resumes with the missing parts only, and commits the same bytes", { timeout: 60_000 }, async () => {
    const started = Date.now();
    const upload = await app.start(FIELDS.large.id, SIZE);
    expect(upload.multipart).toMatchObject({ partSize: 8 * MiB, partCount: 25 });
    const targets = await app.sign(upload.key, Array.from({ length: 25 }, (_, i) => i + 1));
    const etags = new Map<number, string | undefined>();
    await mapWithConcurrency(targets, 4, async (target) => {
      const bytes = slice(upload, content.bytes, target.partNumber);
      const result = await app.sendPart(target, bytes, target.partNumber === 13 ? { cutAfter: 4 * MiB } : {});
      if (result !== "cut") etags.set(target.partNumber, result.etag);
    });
    expect(etags.size).toBe(24);

    const listed = await app.list(upload.key);
    const held = new Set(listed.parts.map((part) => part.partNumber));
    expect(held.has(13)).toBe(false);
    expect(held.size).toBe(24);
    const rest = await sendParts(app, upload, content.bytes, [13]);
    const completed = await app.complete(upload.key, partList(new Map([...etags, ...rest])));
    expect(completed.status).toBe(200);

    const saved = await commitAndRead(app, upload.key, SIZE, FIELDS.large.id);
    expect(saved.bytes.length).toBe(SIZE);
    expect(sha256(saved.bytes)).toBe(content.sha256);
    console.info(`[multipart] 200 MiB on ${name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
});
