import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PNG_1x1 } from "../helpers/sample-files";
import { createHarness, FIELDS, refused, text, type Harness } from "./harness";

/**
 * Bytes written through the still-valid presigned URL right before commit's copy, on the "s3" backend
 * (RGW). Commit checks the copy it keeps (size, sniffed type), so the swapped bytes are what it checks:
 * refused as `invalid_upload`, as content that is not accepted (or, by a driver that pins the copy's
 * source, as content that changed), nothing kept — rather than failing with a storage error.
 * (test/security/size-and-type.test.ts has the swap just *before* the copy.)
 */
describe("a temp object rewritten during commit's copy on s3", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness("s3", { maxPendingUploadsPerPrincipal: 1000 });
  });
  afterAll(() => h?.close());

  it("is refused as changed content, and leaves nothing", async () => {
    const target = await h.issue({ fieldId: FIELDS.image, filename: "p.png", contentType: "image/png", size: PNG_1x1.length });
    expect((await h.upload(target, PNG_1x1)).ok).toBe(true);
    // Same size, other content, written by the backend's own client (the driver's) right before the copy.
    const swap = new Uint8Array(PNG_1x1.length).fill(0x20);
    swap.set(text("<html><script>alert(1)</script>"));
    const client = h.backend.s3Client!;
    let swaps = 0;
    const name = "swapDuringCopy";
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "CopyObjectCommand" && swaps++ === 0) {
          await client.send(new PutObjectCommand({ Bucket: h.backend.s3!.bucket, Key: target.key, Body: swap, ContentType: "image/png" }));
        }
        return next(args);
      },
      { step: "initialize", name },
    );
    const before = await h.backend.list();
    try {
      const error = await refused(h.save("alice", "race-1", FIELDS.image, target.key));
      expect(error.code).toBe("invalid_upload");
      expect(error.message).toMatch(/changed while it was being saved|not accepted/);
    } finally {
      client.middlewareStack.remove(name);
    }
    expect(swaps).toBe(1);
    expect((await h.backend.list()).filter((key) => !before.includes(key))).toEqual([]);
    expect(await h.backend.storage.stat(target.key)).toBeNull();
    expect(h.records.get("race-1")).toBeUndefined();
  });
});
