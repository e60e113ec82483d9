import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UploadUrlResponse } from "../../shared/schemas";
import { anyText, pathSegment } from "./arbitraries";
import { FIELD, startBench, type Bench } from "./route-bench";
import { envelope, method, RunCounter } from "./route-inputs";

/**
 * Properties of `GET download/{fieldId}/{instanceId}[?key=…]` and of paths no route has, over
 * generated paths, queries, principals and headers, on real connections (see route-bench.ts).
 */
const RUNS = Number(process.env.PROPERTY_RUNS ?? 100);

describe("download and unknown paths: generated requests", () => {
  let bench: Bench;
  let storedKey: string;
  const counter = new RunCounter();

  beforeAll(async () => {
    bench = await startBench("filesystem");
    const bytes = new TextEncoder().encode("%PDF-1.4 a saved file");
    const response = await bench.t.request("/upload-url", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ fieldId: FIELD, filename: "saved.pdf", contentType: "application/pdf", size: bytes.length }),
    });
    const target = (await response.json()) as UploadUrlResponse;
    expect((await bench.t.put(target, bytes)).status).toBe(201);
    storedKey = target.key;
    bench.records.set("doc-1", [storedKey, "async-temp/2026/01/01/other/b.pdf"]);
  }, 60_000);
  afterAll(async () => {
    counter.report("download and unknown paths", bench?.statuses);
    await bench?.close();
  });

  const noBody = fc.oneof({ weight: 8, arbitrary: fc.constant(new Uint8Array()) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 16 }) });

  it("GET download/{fieldId}/{instanceId}", async () => {
    const fieldId = fc.oneof({ weight: 4, arbitrary: fc.constant(FIELD) }, { weight: 1, arbitrary: pathSegment });
    const instanceId = fc.oneof({ weight: 4, arbitrary: fc.constantFrom("doc-1", "doc-2") }, { weight: 1, arbitrary: pathSegment });
    const query = fc.oneof(
      { weight: 3, arbitrary: fc.constant("") },
      { weight: 1, arbitrary: fc.constantFrom("?key=KEY", "?key=", "?key=KEY&key=other", "?key=%zz", "?x=1") },
      { weight: 1, arbitrary: anyText(30).map((text) => `?key=${encodeURIComponent(text.replace(/[\ud800-\udfff]/g, "x"))}`) },
    );
    await fc.assert(
      fc.asyncProperty(envelope(undefined), method("GET"), fieldId, instanceId, query, noBody, async (env, verb, field, instance, search, body) => {
        counter.count("download");
        const path = `/download/${field}/${instance}${search.replace("KEY", encodeURIComponent(storedKey))}`;
        await bench.exchange({ ...env, method: verb, path, body }, (answer) => {
          expect(answer.status).toBe(302);
          expect(answer.headers.location).toMatch(/\/fs\/download\//);
          expect(answer.headers["cache-control"]).toBe("private, no-store");
        });
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  }, 120_000);

  it("paths no route has", async () => {
    const prefix = fc.constantFrom("", "/", "/fs", "/fs/", "/fs/upload", "/multipart", "/multipart/", "/upload-url/x", "/download", "/download/x", "/zz", "//", "/.", "/%2e%2e");
    const rest = fc.array(pathSegment, { maxLength: 3 }).map((segments) => segments.map((segment) => `/${segment}`).join(""));
    const anyMethod = fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "M-SEARCH");
    await fc.assert(
      fc.asyncProperty(envelope("application/json"), anyMethod, prefix, rest, fc.constantFrom("", "?a=1", "?%zz", "#frag"), noBody, async (env, verb, start, more, search, body) => {
        counter.count("unknown paths");
        const path = `${start.startsWith("/") ? "" : "/"}${start}${more}${search}`;
        const result = await bench.exchange({ ...env, method: verb, path, body }, () => {
          throw new Error(`${verb} ${path} succeeded`);
        });
        // Under a real route's prefix the route itself may refuse first (a token, a method); elsewhere it is always not_found.
        if (result.error && (start === "/zz" || start === "/.")) expect(result.error.code).toBe("not_found");
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  }, 120_000);
});
