import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MiB } from "../../../server/registry";
import { parseRange } from "../../../server/routes/byte-range";
import { signToken } from "../../../server/tokens";
import { createTestUploads, TEST_SECRET, type TestUploads } from "../../helpers/uploads";

const SIZE = 10_000;

describe("GET fs/download/{token} with Range", () => {
  let t: TestUploads;
  const content = new Uint8Array(randomBytes(SIZE));
  let url = "";
  let emptyUrl = "";

  beforeAll(async () => {
    t = await createTestUploads({
      register: (uploads) => uploads.registry.register("docs.attachment", { maxSize: MiB, canDownload: () => true, resolveKey: async () => null }),
    });
    const linkTo = (key: string) =>
      `/fs/download/${signToken({ purpose: "download", key, filename: "export.csv", expiresAt: Date.now() + 600_000, fieldId: "docs.attachment" }, TEST_SECRET)}`;
    const target = await t.issue({ fieldId: "docs.attachment", filename: "export.csv", contentType: "text/csv", size: content.length });
    expect((await t.put(target, content, "text/csv")).status).toBe(201);
    url = linkTo(target.key);
    // An empty file (uploads refuse them; an export may be one), written beside it.
    await writeFile(join(t.root, "empty.csv"), new Uint8Array(0));
    emptyUrl = linkTo("empty.csv");
  });
  afterAll(() => t.close());

  const get = (headers: Record<string, string>, path = url) => t.request(path, { headers, as: null });
  const bytesOf = async (response: Response) => new Uint8Array(await response.arrayBuffer());

  function expectSecurityHeaders(response: Response) {
    expect(response.headers.get("content-disposition")).toContain("attachment");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("content-security-policy")).toBe("default-src 'none'; sandbox");
    expect(response.headers.get("cache-control")).toBe("private, no-store");
  }

  it("answers the whole file with Accept-Ranges and validators when no Range is sent", async () => {
    const response = await get({});
    expect(response.status).toBe(200);
    expect(response.headers.get("accept-ranges")).toBe("bytes");
    expect(response.headers.get("content-length")).toBe(String(SIZE));
    expect(response.headers.get("etag")).toMatch(/^"[\w-]{22}"$/);
    expect(response.headers.get("last-modified")).toMatch(/GMT$/);
    expectSecurityHeaders(response);
    expect(await bytesOf(response)).toEqual(content);
  });

  it.each([
    ["bytes=0-99", 0, 99],
    ["bytes=100-", 100, SIZE - 1],
    ["bytes=-500", SIZE - 500, SIZE - 1],
    ["bytes=9999-9999", 9999, 9999],
    ["bytes=5000-999999999999", 5000, SIZE - 1],
    ["bytes=-20000", 0, SIZE - 1],
    ["BYTES = 10 - 19", 10, 19],
  ])("%s → 206 with bytes %d–%d", async (range, start, end) => {
    const response = await get({ range });
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe(`bytes ${start}-${end}/${SIZE}`);
    expect(response.headers.get("content-length")).toBe(String(end - start + 1));
    expectSecurityHeaders(response);
    expect(await bytesOf(response)).toEqual(content.subarray(start, end + 1));
  });

  it.each(["bytes=10000-", "bytes=20000-30000", "bytes=-0"])("%s → 416 with Content-Range: bytes */size and a readable error", async (range) => {
    const response = await get({ range });
    expect(response.status).toBe(416);
    expect(response.headers.get("content-range")).toBe(`bytes */${SIZE}`);
    expectSecurityHeaders(response);
    const body = await response.json();
    expect(body.error.code).toBe("range_not_satisfiable");
    expect(body.error.message).toContain(`${SIZE} bytes`);
  });

  it("any range of an empty file is 416; without one it is an empty 200", async () => {
    expect((await get({ range: "bytes=0-" }, emptyUrl)).status).toBe(416);
    const whole = await get({}, emptyUrl);
    expect(whole.status).toBe(200);
    expect((await bytesOf(whole)).length).toBe(0);
  });

  it.each(["bytes=0-1,5-6", "bytes=5-1", "items=0-1", "bytes=abc", "bytes=-", "bytes=1-2-3", "bytes=+1-2", "bytes=1e3-"])(
    "%s (several ranges, malformed, another unit) is ignored: 200 with the whole file",
    async (range) => {
      const response = await get({ range });
      expect(response.status).toBe(200);
      expect(await bytesOf(response)).toEqual(content);
    },
  );

  it("honours If-Range: the ETag or the Last-Modified date of this file gets the range, anything else the whole file", async () => {
    const first = await get({});
    const etag = first.headers.get("etag")!;
    const lastModified = first.headers.get("last-modified")!;
    await first.body?.cancel();
    for (const ifRange of [etag, lastModified]) {
      const response = await get({ range: "bytes=10-19", "if-range": ifRange });
      expect(response.status, ifRange).toBe(206);
      expect(await bytesOf(response)).toEqual(content.subarray(10, 20));
    }
    for (const ifRange of ['"another"', `W/${etag}`, "Thu, 01 Jan 1970 00:00:00 GMT", "garbage"]) {
      const response = await get({ range: "bytes=10-19", "if-range": ifRange });
      expect(response.status, ifRange).toBe(200);
      expect(await bytesOf(response)).toEqual(content);
    }
  });

  it("resumes an interrupted download: the rest from the offset reached completes the file", async () => {
    const reader = (await get({})).body!.getReader();
    const { value } = await reader.read();
    await reader.cancel();
    // The connection dropped after 4,321 bytes.
    const received = value!.subarray(0, 4321);
    const rest = await get({ range: `bytes=${received.length}-` });
    expect(rest.status).toBe(206);
    expect(new Uint8Array([...received, ...(await bytesOf(rest))])).toEqual(content);
  });

  it("property: any generated Range header gets 200, 206 or 416, never a 5xx; a 206 holds exactly the bytes it names", async () => {
    const digits = fc.oneof(fc.nat({ max: SIZE * 2 }).map(String), fc.constantFrom("", "0", "9999", "10000", "99999999999999999999999", "-1", "1.5", " 7"));
    const header = fc.oneof(
      fc.tuple(fc.constantFrom("bytes=", "BYTES=", "bytes =", "bits=", ""), digits, fc.constantFrom("-", "--", "", ","), digits).map((parts) => parts.join("")),
      fc.array(fc.tuple(digits, digits).map(([a, b]) => `${a}-${b}`), { minLength: 1, maxLength: 4 }).map((ranges) => `bytes=${ranges.join(",")}`),
      fc.string({ maxLength: 40 }).filter((value) => !/[\r\n\0]/.test(value) && value.trim() === value),
    );
    await fc.assert(
      fc.asyncProperty(header, async (range) => {
        const response = await get({ range });
        expect([200, 206, 416]).toContain(response.status);
        const expected = parseRange(range, SIZE);
        if (response.status === 206) {
          const match = /^bytes (\d+)-(\d+)\/10000$/.exec(response.headers.get("content-range") ?? "");
          expect(match).not.toBeNull();
          const [start, end] = [Number(match![1]), Number(match![2])];
          expect(expected).toEqual({ kind: "partial", start, end });
          expect(await bytesOf(response)).toEqual(content.subarray(start, end + 1));
        } else if (response.status === 416) {
          expect(expected.kind).toBe("unsatisfiable");
          expect(response.headers.get("content-range")).toBe(`bytes */${SIZE}`);
          await response.body?.cancel();
        } else {
          expect(expected.kind).toBe("whole");
          expect((await bytesOf(response)).length).toBe(SIZE);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("parseRange", () => {
  it("property: a partial range always lies inside the file and is never empty", () => {
    fc.assert(
      fc.property(fc.nat({ max: 1000 }), fc.option(fc.nat({ max: 2000 }), { nil: undefined }), fc.option(fc.nat({ max: 2000 }), { nil: undefined }), (size, a, b) => {
        const answer = parseRange(`bytes=${a ?? ""}-${b ?? ""}`, size);
        if (answer.kind !== "partial") return;
        expect(answer.start).toBeGreaterThanOrEqual(0);
        expect(answer.end).toBeGreaterThanOrEqual(answer.start);
        expect(answer.end).toBeLessThan(size);
      }),
    );
  });
});
