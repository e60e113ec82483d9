import { describe, expect, it } from "vitest";
import { MAX_PARTS, MAX_SIGN_PARTS_BATCH, partCountOf, partRange } from "../../shared/multipart";
import { completeMultipartRequestSchema, multipartKeyRequestSchema, signPartsRequestSchema } from "../../shared/multipart-schemas";

const KEY = "async-temp/2026/01/02/0b6f3e1c-6a37-4a5e-9a57-1a2b3c4d5e6f/big.bin";
const messagesOf = (result: { success: boolean; error?: { issues: Array<{ message: string }> } }) =>
  result.error?.issues.map((issue) => issue.message) ?? [];

describe("partCountOf and partRange", () => {
  it("tile a file: parts in order, without gap or overlap, all of partSize but a shorter last one", () => {
    for (const [size, partSize] of [[10, 4], [12, 4], [1, 4], [5 * 1024 * 1024 + 1, 1024 * 1024]] as const) {
      const count = partCountOf(size, partSize);
      const ranges = Array.from({ length: count }, (_, i) => partRange(i + 1, partSize, size));
      let offset = 0;
      for (const range of ranges) {
        expect(range.offset).toBe(offset);
        offset += range.size;
      }
      expect(offset).toBe(size);
      expect(ranges.slice(0, -1).every((range) => range.size === partSize)).toBe(true);
      expect(ranges.at(-1)!.size).toBeGreaterThan(0);
    }
  });

  it("make an empty file one part, and give a part past the end no bytes", () => {
    expect(partCountOf(0, 4)).toBe(1);
    expect(partRange(4, 4, 10)).toEqual({ offset: 12, size: 0 });
  });
});

describe("signPartsRequestSchema", () => {
  it("accepts a key and up to a batch of distinct part numbers", () => {
    const partNumbers = Array.from({ length: MAX_SIGN_PARTS_BATCH }, (_, i) => i + 1);
    expect(signPartsRequestSchema.parse({ key: KEY, partNumbers })).toEqual({ key: KEY, partNumbers });
  });

  it.each([
    [{ key: KEY, partNumbers: [] }, "ask for at least one part"],
    [{ key: KEY, partNumbers: Array.from({ length: MAX_SIGN_PARTS_BATCH + 1 }, (_, i) => i + 1) }, `at most ${MAX_SIGN_PARTS_BATCH} parts`],
    [{ key: KEY, partNumbers: [1, 2, 1] }, "listed twice"],
    [{ key: KEY, partNumbers: [0] }, "start at 1"],
    [{ key: KEY, partNumbers: [MAX_PARTS + 1] }, `end at ${MAX_PARTS}`],
    [{ key: KEY, partNumbers: [1.5] }, "whole numbers"],
    [{ key: "", partNumbers: [1] }, "key is required"],
    [{ key: "k".repeat(1025), partNumbers: [1] }, "key is too long"],
    [{ key: "a\u0000b", partNumbers: [1] }, "not an upload key"],
    [{ key: "a\ud800b", partNumbers: [1] }, "not an upload key"],
  ])("refuses %j", (body, message) => {
    expect(messagesOf(signPartsRequestSchema.safeParse(body)).join("; ")).toContain(message);
  });

  it("refuses a field it does not know", () => {
    expect(signPartsRequestSchema.safeParse({ key: KEY, partNumbers: [1], uploadId: "x" }).success).toBe(false);
  });
});

describe("multipartKeyRequestSchema", () => {
  it("takes only a key", () => {
    expect(multipartKeyRequestSchema.parse({ key: KEY })).toEqual({ key: KEY });
    expect(multipartKeyRequestSchema.safeParse({}).success).toBe(false);
    expect(multipartKeyRequestSchema.safeParse({ key: KEY, extra: 1 }).success).toBe(false);
  });
});

describe("completeMultipartRequestSchema", () => {
  it("accepts parts with or without an ETag", () => {
    const body = { key: KEY, parts: [{ partNumber: 1, etag: '"abc"' }, { partNumber: 2 }] };
    expect(completeMultipartRequestSchema.parse(body)).toEqual(body);
  });

  it.each([
    [{ key: KEY, parts: [] }, "list at least one part"],
    [{ key: KEY, parts: [{ partNumber: 1, etag: "" }] }, ""],
    [{ key: KEY, parts: [{ partNumber: 1, etag: "e".repeat(201) }] }, ""],
    [{ key: KEY, parts: [{ partNumber: 0 }] }, "start at 1"],
    [{ key: KEY, parts: [{ partNumber: 1, size: 5 }] }, ""],
  ])("refuses %j", (body, message) => {
    const result = completeMultipartRequestSchema.safeParse(body);
    expect(result.success).toBe(false);
    expect(messagesOf(result).join("; ")).toContain(message);
  });
});
