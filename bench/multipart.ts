/**
 * Chunked uploads (issue 8): how long does a 1 GiB file take as one request, and as 8 MiB parts sent
 * 4 at a time (sign-parts, the parts, complete — which assembles the parts on the server)?
 *
 * Our server (filesystem backend, real PostgreSQL) and the client run in this process, over loopback
 * HTTP. Twice: at full loopback speed, where parts can only cost (the filesystem backend writes every
 * byte twice: the part, then the assembled file), and with each connection limited to a fixed rate
 * (injected in the client), as a long round trip or a per-flow shaper limits one TCP connection —
 * the case parallel parts are for.
 *
 * `npx tsx bench/multipart.ts [--quick]`, or as part of `npm run bench`.
 */
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { partRange, type MultipartUploadUrlResponse, type SignPartsResponse } from "../shared/multipart";
import type { UploadUrlResponse } from "../shared/schemas";
import { mapWithConcurrency } from "../server/cleanup/async-utils";
import { createAsyncUploads } from "../server/create-async-uploads";
import { filesystemStorage } from "../server/storage/filesystem";
import { scratchDir } from "./lib/cleanup";
import { BENCH_SECRET } from "./lib/constants";
import { createBenchDatabase } from "./lib/database";
import { progress, runBench } from "./lib/report";
import { formatBytes, GiB, MiB, ratio, round, spread, summarize, type Summary } from "./lib/stats";

const FIELD = "bench.large";
const PART_SIZE = 8 * MiB;
const IN_FLIGHT = 4;
const CHUNK = randomBytes(MiB);

type Variant = "one request" | "parts, 4 in flight";

await runBench(async ({ quick }) => {
  const size = quick ? 256 * MiB : GiB;
  const repeats = quick ? 1 : 3;
  /** Bytes per second one connection may carry in the limited runs. */
  const perConnection = 64 * MiB;

  const database = await createBenchDatabase();
  const root = await scratchDir("bench-multipart-");
  const uploads = createAsyncUploads({ db: database.db, secret: BENCH_SECRET, storage: filesystemStorage({ root }), getPrincipal: () => "bench" });
  uploads.registry.register(FIELD, { maxSize: 4 * GiB, multipartThreshold: 64 * MiB, partSize: PART_SIZE });
  const app = new Hono().route("/u", uploads.routes);
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(started));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = async <T>(path: string, body: unknown): Promise<T> => {
    const response = await fetch(`${origin}/u${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const request = { fieldId: FIELD, filename: "big.bin", contentType: "application/octet-stream", size };

  async function oneRequest(limit?: number): Promise<number> {
    const started = performance.now();
    const target = await post<UploadUrlResponse>("/upload-url", request);
    await put(`${origin}${target.upload.url}`, size, target.upload.headers, limit);
    return performance.now() - started;
  }

  async function inParts(limit?: number): Promise<number> {
    const started = performance.now();
    const { key, multipart } = await post<MultipartUploadUrlResponse>("/upload-url", { ...request, multipart: true });
    const numbers = Array.from({ length: multipart.partCount }, (_, i) => i + 1);
    const targets: SignPartsResponse["parts"] = [];
    for (let i = 0; i < numbers.length; i += 100) {
      targets.push(...(await post<SignPartsResponse>("/multipart/sign-parts", { key, partNumbers: numbers.slice(i, i + 100) })).parts);
    }
    await mapWithConcurrency(targets, IN_FLIGHT, (target) =>
      put(`${origin}${target.url}`, partRange(target.partNumber, multipart.partSize, size).size, target.headers, limit),
    );
    await post("/multipart/complete", { key, parts: numbers.map((partNumber) => ({ partNumber })) });
    return performance.now() - started;
  }

  const results = new Map<string, Summary>();
  try {
    for (const limit of [undefined, perConnection]) {
      for (const variant of ["one request", "parts, 4 in flight"] as Variant[]) {
        const times: number[] = [];
        for (let run = 0; run < repeats; run++) {
          progress(`${variant}, ${formatBytes(size)}${limit ? `, ${formatBytes(limit)}/s per connection` : ""}, run ${run + 1}/${repeats}`);
          times.push(variant === "one request" ? await oneRequest(limit) : await inParts(limit));
          // Every run starts from an empty disk and table.
          await rm(root, { recursive: true, force: true });
          await database.truncate();
        }
        results.set(`${variant}|${limit ?? "none"}`, summarize(times));
      }
    }
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await database.close();
    await rm(root, { recursive: true, force: true });
  }

  const seconds = (ms: number) => `${round(ms / 1000)} s`;
  const throughput = (summary: Summary) => `${round(size / MiB / (summary.median / 1000))} MiB/s`;
  const row = (label: string, limit: string) => {
    const single = results.get(`one request|${limit}`)!;
    const parts = results.get(`parts, 4 in flight|${limit}`)!;
    return [label, spread(single, seconds), spread(parts, seconds), throughput(single), throughput(parts), ratio(single.median, parts.median)];
  };
  const unlimited = row("loopback, no limit", "none");
  const limited = row(`${formatBytes(perConnection)}/s per connection`, String(perConnection));
  const limitedPartsOverSingle = ratio(
    results.get(`parts, 4 in flight|${perConnection}`)!.median,
    results.get(`one request|${perConnection}`)!.median,
  );
  return {
    order: 6,
    title: `Chunked uploads: ${formatBytes(size)} as one request and as parts`,
    method: [
      `${formatBytes(size)} to the filesystem backend through our routes (real PostgreSQL), client and server in one process over loopback HTTP.`,
      `One request: \`upload-url\`, then one PUT. Parts: \`upload-url\` with \`multipart: true\`, \`sign-parts\` (batches of 100), ${formatBytes(PART_SIZE)} parts ${IN_FLIGHT} at a time, \`complete\` (the server assembles the parts into one file).`,
      `"per connection": each request body is paced to ${formatBytes(perConnection)}/s in the client, as a long round trip or a per-flow shaper limits one TCP connection.`,
      `Median (min–max) of ${repeats} run${repeats === 1 ? "" : "s"}; disk and table emptied between runs.`,
    ],
    tables: [
      {
        headers: ["network", "one request", "parts, 4 in flight", "one request", "parts", "parts faster by"],
        rows: [unlimited, limited],
      },
    ],
    notes: [
      "On an unlimited loopback the parts cannot win: the same bytes cross the same socket, and the filesystem backend writes them twice (parts, then the assembled file). What parts buy there is resumability: a cut costs one part, not the file.",
      "Where one connection is the bottleneck, 4 parts in flight carry up to 4 times as much; S3 and Azure assemble server-side without a second pass through our server.",
    ],
    // The summary's ratios are ours ÷ peer everywhere: here parts ÷ one request (below 1 = parts faster).
    headline: [[`${formatBytes(size)} upload in parts vs one request, ${formatBytes(perConnection)}/s per connection`, limited[2]!, limited[1]!, limitedPartsOverSingle]],
  };
});

/** PUTs `size` bytes (a repeated random MiB) to `url`, paced to `limit` bytes per second when given. */
function put(url: string, size: number, headers: Record<string, string>, limit?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "PUT", headers: { ...headers, "content-length": String(size) } }, (response) => {
      response.resume();
      response.on("end", () => (response.statusCode === 201 ? resolve() : reject(new Error(`PUT answered ${response.statusCode}`))));
    });
    req.on("error", reject);
    Readable.from(body(size, limit)).pipe(req);
  });
}

async function* body(size: number, limit?: number): AsyncIterable<Buffer> {
  const started = performance.now();
  for (let sent = 0; sent < size; ) {
    const chunk = CHUNK.subarray(0, Math.min(CHUNK.length, size - sent));
    if (limit) {
      const due = started + (sent / limit) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    sent += chunk.length;
    yield chunk;
  }
}
