import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MultipartUploadUrlResponse } from "../../shared/multipart";
import { MiB } from "../../server/registry";
import type { BackendName } from "../helpers/backends";
import { anyNumber, anyText, jsonBody, nearObject } from "./arbitraries";
import type { RawAnswer } from "./http";
import { FIELD, startBench, type Bench } from "./route-bench";
import { envelope, exchangeJson, method, partList, partNumbers, RunCounter } from "./route-inputs";

/**
 * Properties of the JSON routes (`POST upload-url`, `POST multipart/{sign-parts,list-parts,complete,abort}`)
 * over generated bodies and headers, each request on a real keep-alive connection: never a 5xx, a
 * readable `{error}` for every 4xx, the guards' refusals where they must come first, the connection
 * still usable (or closed as announced), and nothing stored or recorded by a refusal.
 */

/**
 * The JSON routes' properties on one backend, `runs` generated inputs per route (`PROPERTY_RUNS`
 * overrides it). One test file per backend, so that vitest runs them side by side.
 */
export function describeJsonRoutes(name: BackendName, runs: number): void {
  describe(`JSON routes on ${name}: generated requests`, () => {
    let bench: Bench;
    let open: MultipartUploadUrlResponse;
    let othersUpload: string;
    const counter = new RunCounter();
    const numRuns = Number(process.env.PROPERTY_RUNS ?? runs);

    beforeAll(async () => {
      bench = await startBench(name);
      const start = async (as: string) => {
        const response = await bench.t.request("/upload-url", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ fieldId: FIELD, filename: "big.bin", contentType: "application/octet-stream", size: 600 * 1024, multipart: true }),
          as,
        });
        expect(response.status).toBe(201);
        return (await response.json()) as MultipartUploadUrlResponse;
      };
      open = await start("alice");
      othersUpload = (await start("bob")).key;
    }, 60_000);
    afterAll(async () => {
      counter.report(`JSON routes on ${name}`, bench?.statuses);
      await bench?.close();
    });

    const ok = (status: number) => (answer: RawAnswer) => {
      expect(answer.status).toBe(status);
      expect(answer.headers["cache-control"]).toBe("no-store");
    };

    it("POST upload-url", async () => {
      // Valid values here; nearObject spoils them (other types, odd text, absent, extra members).
      const body = nearObject({
        fieldId: fc.constantFrom(FIELD, FIELD, "docs.unknown"),
        filename: fc.constantFrom("a.pdf", "photo.png", "big.bin", "résumé 2026.pdf"),
        contentType: fc.constantFrom("application/pdf", "image/png", "application/octet-stream"),
        size: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: MiB }) }, { weight: 1, arbitrary: fc.constant(MiB + 1) }),
        instanceId: fc.constantFrom("doc-1", "x_Y-2"),
        multipart: fc.boolean(),
      });
      await fc.assert(
        fc.asyncProperty(envelope("application/json"), method("POST"), jsonBody(body), async (env, verb, bytes) => {
          counter.count("upload-url");
          await exchangeJson(bench, "POST", { ...env, method: verb, path: "/upload-url", body: bytes }, (answer) => {
            ok(201)(answer);
            const issued = JSON.parse(answer.body) as { key?: unknown; upload?: unknown; multipart?: unknown };
            expect(typeof issued.key).toBe("string");
            expect(issued.upload ?? issued.multipart).toBeDefined();
          });
        }),
        { numRuns, endOnFailure: true },
      );
    }, 120_000);

    /** A key for the chunked-upload routes: alice's open upload, someone else's, or not an upload key. */
    const keyOf = fc.oneof(
      { weight: 4, arbitrary: fc.constant("open") },
      { weight: 1, arbitrary: fc.constant("others") },
      { weight: 2, arbitrary: fc.oneof(anyText(60), anyNumber, fc.constantFrom("", "async-temp/2026/01/01/x/a.bin", "../../etc/passwd", "k".repeat(1100))) },
    );
    const keyValue = (choice: unknown) => (choice === "open" ? open.key : choice === "others" ? othersUpload : choice);

    it.each([
      ["sign-parts", 200, { partNumbers }],
      ["list-parts", 200, {}],
      ["complete", 200, { parts: partList }],
    ] as const)("POST multipart/%s", async (route, status, extra) => {
      const body = nearObject({ key: keyOf, ...extra }).map((object) => ({ ...object, ...(object.key !== undefined ? { key: keyValue(object.key) } : {}) }));
      await fc.assert(
        fc.asyncProperty(envelope("application/json"), method("POST"), jsonBody(body), async (env, verb, bytes) => {
          counter.count(`multipart/${route}`);
          await exchangeJson(bench, "POST", { ...env, method: verb, path: `/multipart/${route}`, body: bytes }, ok(status));
        }),
        { numRuns, endOnFailure: true },
      );
    }, 120_000);

    it("POST multipart/abort", async () => {
      // "fresh": an upload of alice's started for this input alone, so that a cancel that succeeds is seen too.
      const abortKey = fc.oneof({ weight: 2, arbitrary: fc.constant("fresh") }, { weight: 3, arbitrary: keyOf.filter((key) => key !== "open") });
      await fc.assert(
        fc.asyncProperty(envelope("application/json"), method("POST"), nearObject({ key: abortKey }), async (env, verb, object) => {
          counter.count("multipart/abort");
          let fresh: string | undefined;
          if (object.key === "fresh") {
            const response = await bench.t.request("/upload-url", {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ fieldId: FIELD, filename: "fresh.bin", contentType: "application/octet-stream", size: 600 * 1024, multipart: true }),
            });
            fresh = ((await response.json()) as MultipartUploadUrlResponse).key;
          }
          const value = { ...object, ...(object.key !== undefined ? { key: fresh ?? keyValue(object.key) } : {}) };
          await exchangeJson(bench, "POST", { ...env, method: verb, path: "/multipart/abort", body: new TextEncoder().encode(JSON.stringify(value)) }, async (answer) => {
            expect(answer.status).toBe(204);
          });
          // A successful cancel leaves nothing of the upload in storage.
          if (fresh) expect((await bench.backend.list()).filter((key) => key.startsWith(fresh!))).toEqual([]);
        }),
        { numRuns, endOnFailure: true },
      );
    }, 120_000);
  });
}
