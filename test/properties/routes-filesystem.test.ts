import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { MultipartUploadUrlResponse, SignPartsResponse } from "../../shared/multipart";
import type { UploadUrlResponse } from "../../shared/schemas";
import { signToken } from "../../server/tokens";
import { TEST_SECRET } from "../helpers/uploads";
import { anyText, contentType, framing, host, method, origin, principal, secFetchSite } from "./arbitraries";
import { RawConnection, rawRequest, type RawAnswer } from "./http";
import { FIELD, startBench, type Bench } from "./route-bench";
import { RunCounter } from "./route-inputs";

/**
 * Properties of the filesystem backend's own routes (`PUT fs/upload/{token}`, `PUT fs/upload-part/{token}`,
 * `GET fs/download/{token}`) over generated tokens, bodies and headers, on real connections: the
 * same promises as the JSON routes (see route-bench.ts).
 */
const RUNS = Number(process.env.PROPERTY_RUNS ?? 100);

describe("filesystem routes: generated requests", () => {
  let bench: Bench;
  const counter = new RunCounter();
  let chunked: MultipartUploadUrlResponse;
  let partUrls: string[];
  let canceledPartUrl: string;
  let stored: { key: string; bytes: Uint8Array };
  let usedUploadUrl: string;

  const issue = async (body: Record<string, unknown>) => {
    const response = await bench.t.request("/upload-url", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(response.status).toBe(201);
    return response.json();
  };
  const sign = async (key: string, partNumbers: number[]) => {
    const response = await bench.t.request("/multipart/sign-parts", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ key, partNumbers }) });
    return ((await response.json()) as SignPartsResponse).parts.map((part) => part.url);
  };
  const chunkedRequest = { fieldId: FIELD, filename: "big.bin", contentType: "application/octet-stream", size: 600 * 1024, multipart: true };

  beforeAll(async () => {
    bench = await startBench("filesystem");
    chunked = (await issue(chunkedRequest)) as MultipartUploadUrlResponse;
    partUrls = await sign(chunked.key, [1, 2, 3]);
    const canceled = (await issue(chunkedRequest)) as MultipartUploadUrlResponse;
    canceledPartUrl = (await sign(canceled.key, [3]))[0]!;
    await bench.t.request("/multipart/abort", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ key: canceled.key }) });
    const bytes = new TextEncoder().encode("%PDF-1.4 stored for the download properties");
    const target = (await issue({ fieldId: FIELD, filename: "stored.pdf", contentType: "application/pdf", size: bytes.length })) as UploadUrlResponse;
    expect((await bench.t.put(target, bytes)).status).toBe(201);
    stored = { key: target.key, bytes };
    usedUploadUrl = target.upload.url;
  }, 60_000);
  afterAll(async () => {
    counter.report("filesystem routes", bench?.statuses);
    await bench?.close();
  });

  const envelope = (wanted: string | undefined) =>
    fc.record({ framing, host, origin, secFetchSite, contentType: contentType(wanted), principal }, { requiredKeys: ["framing", "host", "origin"] });
  /** Spoils a token: one character changed, cut, or another token's signature. */
  const spoil = (token: string, how: number) => {
    const at = how % token.length;
    if (how % 3 === 0) return token.slice(0, at);
    const changed = token[at] === "A" ? "B" : "A";
    return `${token.slice(0, at)}${changed}${token.slice(at + 1)}`;
  };
  const tokenOf = (url: string) => url.slice(url.lastIndexOf("/") + 1);
  /** A token as an attacker would send it: the issued one, spoiled, expired, for another purpose, or text. */
  const tokenChoice = fc.oneof(
    { weight: 5, arbitrary: fc.constant({ kind: "issued" as const }) },
    { weight: 2, arbitrary: fc.nat().map((how) => ({ kind: "spoiled" as const, how })) },
    { weight: 1, arbitrary: fc.constantFrom({ kind: "expired" as const }, { kind: "other-purpose" as const }, { kind: "used" as const }) },
    { weight: 1, arbitrary: anyText(60).map((text) => ({ kind: "text" as const, text: encodeURIComponent(text.replace(/[\ud800-\udfff]/g, "x")) })) },
  );
  /** The body's length against the one signed. */
  const lengthDelta = fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: -3, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 5000 }) });

  it("PUT fs/upload/{token}", async () => {
    await fc.assert(
      fc.asyncProperty(envelope("application/pdf"), method("PUT"), tokenChoice, fc.integer({ min: 1, max: 64 }), lengthDelta, async (env, verb, choice, size, delta) => {
        counter.count("fs/upload");
        const target = (await issue({ fieldId: FIELD, filename: "a.pdf", contentType: "application/pdf", size })) as UploadUrlResponse;
        const issued = tokenOf(target.upload.url);
        const claims = { purpose: "upload" as const, key: target.key, size, contentType: "application/pdf", fieldId: FIELD };
        const token =
          choice.kind === "issued" ? issued
          : choice.kind === "spoiled" ? spoil(issued, choice.how)
          : choice.kind === "expired" ? signToken({ ...claims, expiresAt: Date.now() - 1000 }, TEST_SECRET)
          : choice.kind === "other-purpose" ? signToken({ purpose: "download", key: target.key, filename: "a.pdf", fieldId: FIELD, expiresAt: Date.now() + 60_000 }, TEST_SECRET)
          : choice.kind === "used" ? tokenOf(usedUploadUrl)
          : choice.text;
        const body = new Uint8Array(Math.max(0, size + delta)).fill(0x25);
        await bench.exchange({ ...env, method: verb, path: `/fs/upload/${token}`, body }, (answer) => expect(answer.status).toBe(201));
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  }, 120_000);

  it("PUT fs/upload-part/{token}", async () => {
    const part = fc.oneof({ weight: 4, arbitrary: fc.constant(3) }, { weight: 1, arbitrary: fc.constantFrom(1, 2) });
    await fc.assert(
      fc.asyncProperty(envelope(undefined), method("PUT"), tokenChoice, part, lengthDelta, async (env, verb, choice, partNumber, delta) => {
        counter.count("fs/upload-part");
        const issued = tokenOf(partUrls[partNumber - 1]!);
        const partSize = partNumber === 3 ? 600 * 1024 - 2 * chunked.multipart.partSize : chunked.multipart.partSize;
        const token =
          choice.kind === "issued" ? issued
          : choice.kind === "spoiled" ? spoil(issued, choice.how)
          : choice.kind === "expired" ? signToken({ purpose: "upload-part", key: chunked.key, uploadId: chunked.multipart.uploadId, partNumber, offset: 0, size: partSize, fieldId: FIELD, expiresAt: Date.now() - 1000 }, TEST_SECRET)
          : choice.kind === "other-purpose" ? tokenOf(usedUploadUrl)
          : choice.kind === "used" ? tokenOf(canceledPartUrl)
          : choice.text;
        const body = new Uint8Array(Math.max(0, partSize + delta)).fill(0x61);
        await bench.exchange({ ...env, method: verb, path: `/fs/upload-part/${token}`, body }, (answer) => expect(answer.status).toBe(201));
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  }, 120_000);

  it.each(["upload", "upload-part"] as const)("a client that goes away in the middle of fs/%s: no server error, nothing kept", async (route) => {
    const size = 200 * 1024;
    const target = route === "upload" ? ((await issue({ fieldId: FIELD, filename: "cut.pdf", contentType: "application/pdf", size })) as UploadUrlResponse).upload.url : partUrls[2]!;
    const partSize = 600 * 1024 - 2 * chunked.multipart.partSize;
    const length = route === "upload" ? size : partSize;
    const before = await bench.backend.list();
    const logged: unknown[] = [];
    const spy = vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void logged.push(args[0]));
    try {
      const connection = await RawConnection.open(bench.port);
      connection.write(rawRequest("PUT", target, [["Host", `127.0.0.1:${bench.port}`], ["Content-Type", "application/pdf"], ["Content-Length", String(length)]], new Uint8Array(length / 2)));
      await new Promise((resolve) => setTimeout(resolve, 100));
      connection.destroy();
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      spy.mockRestore();
    }
    expect(logged.map(String).filter((line) => line.includes("unexpected error"))).toEqual([]);
    expect(await bench.backend.list()).toEqual(before);
  });

  it("GET fs/download/{token}", async () => {
    const bodyOfGet = fc.oneof({ weight: 6, arbitrary: fc.constant(new Uint8Array()) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 32 }) });
    await fc.assert(
      fc.asyncProperty(envelope(undefined), method("GET"), tokenChoice, bodyOfGet, async (env, verb, choice, body) => {
        counter.count("fs/download");
        const claims = { purpose: "download" as const, key: stored.key, filename: "stored.pdf", fieldId: FIELD };
        const issued = signToken({ ...claims, expiresAt: Date.now() + 60_000 }, TEST_SECRET);
        const token =
          choice.kind === "issued" ? issued
          : choice.kind === "spoiled" ? spoil(issued, choice.how)
          : choice.kind === "expired" ? signToken({ ...claims, expiresAt: Date.now() - 1000 }, TEST_SECRET)
          : choice.kind === "other-purpose" ? tokenOf(usedUploadUrl)
          : choice.kind === "used" ? signToken({ ...claims, key: `${stored.key}.gone`, expiresAt: Date.now() + 60_000 }, TEST_SECRET)
          : choice.text;
        await bench.exchange({ ...env, method: verb, path: `/fs/download/${token}`, body }, (answer: RawAnswer) => {
          expect(answer.status).toBe(200);
          expect(answer.headers["content-disposition"]).toMatch(/^attachment/);
          expect(answer.headers["x-content-type-options"]).toBe("nosniff");
          if (verb === "GET") expect(answer.body).toBe(new TextDecoder().decode(stored.bytes));
        });
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  }, 120_000);
});
