import { describe, expect, it } from "vitest";
import { MAX_PARTS, partCountOf, partRange } from "../../../shared/multipart";
import { checkPartList } from "../../../server/multipart/check-parts";
import { MULTIPART_ASSEMBLED, multipartStateOf, partSizeFor } from "../../../server/multipart/plan";
import { GiB, MiB } from "../../../server/registry";
import { S3_MAX_PART_SIZE, S3_MIN_PART_SIZE } from "../../../server/storage/s3-multipart";

const s3 = { minPartSize: S3_MIN_PART_SIZE, maxPartSize: S3_MAX_PART_SIZE };

describe("part plan", () => {
  it("uses the field's part size, raised to the storage's minimum", () => {
    expect(partSizeFor(100 * MiB, 8 * MiB, s3)).toBe(8 * MiB);
    expect(partSizeFor(100 * MiB, MiB, s3)).toBe(5 * MiB);
  });

  it("never needs more than 10,000 parts, up to S3's largest object (5 TiB)", () => {
    for (const size of [5 * GiB, 80 * GiB, 81 * GiB, 5 * 1024 * GiB]) {
      const partSize = partSizeFor(size, 8 * MiB, s3);
      expect(partCountOf(size, partSize)).toBeLessThanOrEqual(MAX_PARTS);
      expect(partSize % MiB).toBe(0);
    }
    expect(partSizeFor(5 * GiB, 8 * MiB, s3)).toBe(8 * MiB); // 640 parts
  });

  it("refuses a file the storage cannot hold in 10,000 of its largest parts", () => {
    expect(() => partSizeFor(10_001 * 4 * MiB, MiB, { minPartSize: 1, maxPartSize: 4 * MiB })).toThrow(/larger than this storage can take/);
  });

  it("cuts a file into parts of the plan, the last one shorter", () => {
    expect(partCountOf(10, 4)).toBe(3);
    expect([1, 2, 3].map((n) => partRange(n, 4, 10))).toEqual([
      { offset: 0, size: 4 },
      { offset: 4, size: 4 },
      { offset: 8, size: 2 },
    ]);
    expect(partCountOf(8, 4)).toBe(2);
    expect(partRange(2, 4, 8)).toEqual({ offset: 4, size: 4 });
  });

  it("reads an open chunked upload from the row's upload_id and part_size, and none once assembled", () => {
    expect(multipartStateOf({ uploadId: "abc", partSize: 5 * MiB })).toEqual({ uploadId: "abc", partSize: 5 * MiB });
    expect(multipartStateOf(MULTIPART_ASSEMBLED)).toBeNull();
    expect(multipartStateOf({ uploadId: null, partSize: null })).toBeNull();
  });
});

describe("checkPartList", () => {
  // 3 parts of 5 MiB (S3's minimum), the last 1 MiB.
  const plan = { size: 11 * MiB, partSize: 5 * MiB, minPartSize: 5 * MiB };
  const staged = [
    { partNumber: 1, size: 5 * MiB, etag: '"a"' },
    { partNumber: 2, size: 5 * MiB, etag: '"b"' },
    { partNumber: 3, size: MiB, etag: '"c"' },
  ];
  const listed = staged.map(({ partNumber, etag }) => ({ partNumber, etag }));
  const reason = (result: ReturnType<typeof checkPartList>) => (result.ok ? "ok" : result.reason);

  it("accepts the exact list, with or without ETags, and returns the staged parts in order", () => {
    expect(checkPartList(listed, staged, plan)).toEqual({ ok: true, parts: staged });
    expect(checkPartList(listed.map(({ partNumber }) => ({ partNumber })), [...staged].reverse(), plan)).toEqual({ ok: true, parts: staged });
    // Unquoted ETags are the same ETags.
    expect(checkPartList(listed.map((part) => ({ ...part, etag: part.etag.replace(/"/g, "") })), staged, plan).ok).toBe(true);
  });

  it("refuses parts out of order or listed twice", () => {
    expect(reason(checkPartList([listed[1]!, listed[0]!, listed[2]!], staged, plan))).toMatch(/part 1 comes after part 2/);
    expect(reason(checkPartList([listed[0]!, listed[0]!, listed[1]!, listed[2]!], staged, plan))).toMatch(/part 1 comes after part 1/);
  });

  it("refuses a list with a part missing, or a part the plan does not have", () => {
    expect(reason(checkPartList([listed[0]!, listed[2]!], staged, plan))).toMatch(/missing part 2 of 3/);
    expect(reason(checkPartList([...listed, { partNumber: 4, etag: '"d"' }], staged, plan))).toMatch(/no part 4/);
  });

  it("refuses a listed part that storage does not hold", () => {
    expect(reason(checkPartList(listed, [staged[0]!, staged[2]!], plan))).toMatch(/Part 2 never arrived/);
  });

  it("refuses a part below the storage's minimum, or of another size than planned", () => {
    const small = [staged[0]!, { ...staged[1]!, size: 5 * MiB - 1 }, staged[2]!];
    expect(reason(checkPartList(listed, small, plan))).toMatch(/Part 2 has 5242879 bytes but must have exactly 5242880 \(every part but the last must have at least 5 MiB\)/);
    const large = [staged[0]!, { ...staged[1]!, size: 5 * MiB + 1 }, staged[2]!];
    expect(reason(checkPartList(listed, large, plan))).toMatch(/Part 2 has 5242881 bytes but must have exactly 5242880\.$/);
  });

  it("refuses a total that is not the declared size (the last part is off)", () => {
    const longer = [staged[0]!, staged[1]!, { ...staged[2]!, size: MiB + 1 }];
    expect(reason(checkPartList(listed, longer, plan))).toMatch(/add up to 11534337 bytes, but the file has 11534336/);
  });

  it("refuses a part whose ETag is not the one storage holds", () => {
    expect(reason(checkPartList([listed[0]!, { partNumber: 2, etag: '"x"' }, listed[2]!], staged, plan))).toMatch(/Part 2 in storage is not the part that was sent/);
  });
});
