/**
 * Question 2: how fast does a large PUT stream through our filesystem route to disk, compared with
 * writing the same bytes with a plain Node file stream — and does the server's memory stay flat as
 * the file grows (64 MiB, 256 MiB, 1 GiB)?
 *
 * Our server and the bare `node:http` server each run in a child process that samples its own RSS
 * every 50 ms; the client (and the plain file stream) run in this process.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import type { UploadUrlResponse } from "../shared/schemas";
import { scratchDir } from "./lib/cleanup";
import { startChild, type Child } from "./lib/child";
import { BENCH_FIELD } from "./lib/constants";
import { createBenchDatabase } from "./lib/database";
import { progress, runBench, type Section } from "./lib/report";
import { formatBytes, GiB, MiB, ratio, round, spread, summarize, type Summary } from "./lib/stats";
import { versions } from "./lib/versions";

type Info = { url: string };
type Variant = "file stream" | "node:http" | "ours";
interface Sample {
  ms: number;
  /** RSS of the server when the upload started, and its peak during the upload (bytes). */
  idleRss?: number;
  peakRss?: number;
  /** CPU time the server process (all its threads: GC, the libuv pool writing the file) spent on the upload, ms. */
  cpuMs?: number;
  /** Full (mark-compact) garbage collections in the server during the upload, and their pauses (ms). */
  majorGcs?: number;
  majorGcMs?: number;
}

const CHUNK = randomBytes(MiB);
const CONTENT_TYPE = "application/octet-stream";

await runBench(async ({ quick }) => {
  // FS_BENCH_SIZES_MIB="256,1024" and FS_BENCH_REPEATS=2 pick other sizes and repeats (for profiling one size).
  const sizes = process.env.FS_BENCH_SIZES_MIB?.split(",").map((mib) => Number(mib) * MiB) ?? (quick ? [16 * MiB, 64 * MiB] : [64 * MiB, 256 * MiB, GiB]);
  const repeats = Number(process.env.FS_BENCH_REPEATS ?? (quick ? 1 : 3));
  const variants: Variant[] = ["file stream", "node:http", "ours"];

  const database = await createBenchDatabase();
  const scratch = await scratchDir("bench-fs-streaming-");
  const roots = { ours: join(scratch, "ours"), bare: join(scratch, "bare"), plain: join(scratch, "plain") };
  const children: Child<Info>[] = [];
  try {
    const ours = await startChild<Info>("servers/async-uploads-server.ts", [], {
      BENCH_BACKEND: "filesystem",
      BENCH_FS_ROOT: roots.ours,
      BENCH_DB_URL: database.url,
      BENCH_DB_SCHEMA: database.schema,
    });
    children.push(ours);
    await Promise.all([mkdir(roots.bare), mkdir(roots.plain)]);
    const bare = await startChild<Info>("servers/bare-write-server.ts", [], { BENCH_FS_ROOT: roots.bare });
    children.push(bare);

    const samples = new Map<string, Sample[]>();
    const add = (variant: Variant, size: number, sample: Sample) => {
      const key = `${variant}|${size}`;
      samples.set(key, [...(samples.get(key) ?? []), sample]);
    };

    // Warm-up (untimed): the first request of each server compiles its code paths.
    progress("fs-streaming: warming up");
    for (let i = 0; i < 2; i++) {
      await put(`${bare.info.url}/upload`, 16 * MiB);
      const target = await issue(ours.info.url, 16 * MiB);
      await put(new URL(target.upload.url, ours.info.url).href, 16 * MiB);
      await writeFileStream(join(roots.plain, "file"), 16 * MiB);
    }
    await Promise.all([rm(roots.bare, { recursive: true }), rm(roots.ours, { recursive: true }), rm(join(roots.plain, "file"))]);
    await mkdir(roots.bare);

    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const size of sizes) {
        for (let i = 0; i < variants.length; i++) {
          const variant = variants[(i + repeat) % variants.length]!;
          progress(`fs-streaming: ${repeat + 1}/${repeats}, ${formatBytes(size)}, ${variant}`);
          if (variant === "file stream") {
            const path = join(roots.plain, "file");
            const started = performance.now();
            await writeFileStream(path, size);
            add(variant, size, { ms: performance.now() - started });
            await expectSize(path, size);
            await rm(path);
          } else if (variant === "node:http") {
            add(variant, size, await measured(bare, () => put(`${bare.info.url}/upload`, size)));
            const [file] = await readdir(roots.bare);
            await expectSize(join(roots.bare, file!), size);
            await rm(join(roots.bare, file!));
          } else {
            const target = await issue(ours.info.url, size);
            add(variant, size, await measured(ours, () => put(new URL(target.upload.url, ours.info.url).href, size)));
            await expectSize(join(roots.ours, target.key), size);
            await rm(join(roots.ours, target.key));
          }
        }
      }
    }
    const hwm = { ours: ours.vmHwm(), bare: bare.vmHwm() };

    const summary = (variant: Variant, size: number, pick: (sample: Sample) => number) =>
      summarize(samples.get(`${variant}|${size}`)!.map(pick));
    const throughput = (variant: Variant, size: number) => summary(variant, size, (sample) => size / MiB / (sample.ms / 1000));
    const growth = (variant: Variant, size: number) => summary(variant, size, (sample) => sample.peakRss! - sample.idleRss!);
    const mibps = (s: Summary) => spread(s, (value) => round(value, 3));
    const mib = (s: Summary) => spread(s, (value) => round(value / MiB, 3));

    const speedRows = sizes.map((size) => {
      const [plain, http, ourSpeed] = [throughput("file stream", size), throughput("node:http", size), throughput("ours", size)];
      return [formatBytes(size), mibps(plain), mibps(http), mibps(ourSpeed), ratio(ourSpeed.median, plain.median), ratio(ourSpeed.median, http.median)];
    });
    const cpuPerGiB = (variant: Variant, size: number) => summary(variant, size, (sample) => sample.cpuMs! / 1000 / (size / GiB));
    const hasCpu = [...samples.entries()].every(([key, list]) => key.startsWith("file stream") || list.every((sample) => sample.cpuMs !== undefined));
    const cpuRows = hasCpu
      ? sizes.map((size) => {
          const [http, ourCpu] = [cpuPerGiB("node:http", size), cpuPerGiB("ours", size)];
          return [formatBytes(size), spread(http, (value) => round(value, 3)), spread(ourCpu, (value) => round(value, 3)), ratio(ourCpu.median, http.median)];
        })
      : null;
    const perGiB = (size: number) => GiB / size;
    const gcRows = sizes.map((size) => {
      const [http, ourGcs] = [summary("node:http", size, (sample) => sample.majorGcs! * perGiB(size)), summary("ours", size, (sample) => sample.majorGcs! * perGiB(size))];
      const [httpMs, ourMs] = [summary("node:http", size, (sample) => sample.majorGcMs! * perGiB(size)), summary("ours", size, (sample) => sample.majorGcMs! * perGiB(size))];
      return [formatBytes(size), spread(http, (value) => round(value, 3)), spread(ourGcs, (value) => round(value, 3)), spread(httpMs, (value) => round(value, 3)), spread(ourMs, (value) => round(value, 3))];
    });
    const memoryRows = sizes.map((size) => [
      formatBytes(size),
      mib(summary("ours", size, (sample) => sample.idleRss!)),
      mib(summary("ours", size, (sample) => sample.peakRss!)),
      mib(growth("ours", size)),
      mib(summary("node:http", size, (sample) => sample.peakRss!)),
      mib(growth("node:http", size)),
    ]);
    /** Where we are behind the file stream or node:http, and why. */
    const behindNotes = (): string[] => {
      const behind = sizes.filter((size) => throughput("ours", size).median < throughput("file stream", size).median * 0.9);
      const level = sizes.filter((size) => !behind.includes(size));
      const notes: string[] = [];
      if (behind.length > 0) {
        const ratios = behind.map((size) => `${ratio(throughput("ours", size).median, throughput("file stream", size).median)} at ${formatBytes(size)}`).join(", ");
        notes.push(
          `Behind the plain file stream (${ratios}): it writes from memory straight into the page cache, at memory speed, while every upload crosses loopback HTTP — the client's writes and the server's reads are two more copies through the kernel, and client and server share the 2 cores. ` +
            (level.length > 0
              ? `At ${level.map(formatBytes).join(" and ")} the page cache fills, the kernel holds writers to the disk's pace, the file stream slows to ${level.map((size) => `${round(throughput("file stream", size).median, 3)} MiB/s`).join(" / ")}, and our route keeps up with it (${level.map((size) => ratio(throughput("ours", size).median, throughput("file stream", size).median)).join(" / ")}).`
              : ""
            ).trim(),
        );
      }
      const gcs = (variant: Variant) => sizes.map((size) => round(summary(variant, size, (sample) => sample.majorGcs! * perGiB(size)).median, 3)).join(" / ");
      notes.push(
        `The bare node:http server pays the same HTTP cost, so "ours vs node:http" (${sizes.map((size) => ratio(throughput("ours", size).median, throughput("node:http", size).median)).join(" / ")}) is our own. ` +
          "What decides it is garbage collection. Node's HTTP parser copies every chunk of a body into a new buffer, and V8 counts those buffers towards the old generation's limit until a full collection; a server that allocates little else (too little for young collections to free them) runs a full mark-compact every few MiB received, and each one marks the whole heap: ours about 19 MB (the library, Hono, drizzle, postgres.js, zod), the bare server's 8 (`--trace-gc-nvp`, `--trace-incremental-marking`, heap snapshots). " +
          `Our route frees each chunk as soon as it is written (\`ArrayBuffer.prototype.transfer(0)\`, only for the request's own chunks), so it collects less often than the bare server, which leaves them to the GC: full collections per GiB ${gcs("ours")} against node:http's ${gcs("node:http")}. The route's own per-chunk work (one counting stream that hands the request over, a counting file sink) stays below 1% of its time.`,
      );
      return notes;
    };
    const largest = sizes[sizes.length - 1]!;
    const smallest = sizes[0]!;
    const ourLargest = throughput("ours", largest).median;
    const plainLargest = throughput("file stream", largest).median;
    const growthSmall = growth("ours", smallest).median;
    const growthLarge = growth("ours", largest).median;
    return {
      order: 2,
      title: "Streaming uploads to the filesystem backend",
      method: [
        `After two untimed 16 MiB warm-up uploads per server, a PUT of N bytes (a 1 MiB random buffer sent N/1 MiB times, Content-Length set, backpressure respected) from this process to a server in a child process; timed from the first byte sent to the 201. ${repeats} repeat(s) per size and variant, in rotating order; median (min–max).`,
        "**ours**: `POST upload-url` (untimed) then `PUT /async-uploads/fs/upload/{token}` → Hono → the request's own Node stream → `filesystemStorage.write` (a file sink that counts the bytes and frees each chunk once written, exclusive create, link into place).",
        "**node:http**: a bare `node:http` server doing `pipeline(req, fs.createWriteStream(path))` — HTTP plus disk, nothing else.",
        "**file stream**: this process writing the same chunks with `fs.createWriteStream` (no HTTP) — the disk's floor, the peer the issue asks for.",
        `Peak memory: each server samples \`process.memoryUsage.rss()\` every 50 ms; the window is reset before each upload, so "growth" is peak minus RSS when the upload started. VmHWM over the whole run (all sizes, all repeats): ours ${hwm.ours === null ? "n/a" : `${round(hwm.ours / MiB, 3)} MiB`}, node:http ${hwm.bare === null ? "n/a" : `${round(hwm.bare / MiB, 3)} MiB`}.`,
        `Files go to ${tmpdir()} on this machine's disk (page cache; nothing calls fsync). ${versions("hono", "@hono/node-server")}.`,
      ],
      tables: [
        {
          caption: "Throughput, MiB/s (higher is better)",
          headers: ["file size", "file stream (peer)", "node:http + file stream", "ours", "ours vs file stream", "ours vs node:http"],
          rows: speedRows,
        },
        ...(cpuRows
          ? [
              {
                caption: "Server CPU time per GiB received, seconds (all threads; lower is better)",
                headers: ["file size", "node:http", "ours", "ours vs node:http"],
                rows: cpuRows,
              },
            ]
          : []),
        {
          caption: "Full (mark-compact) garbage collections in the server per GiB received, and their pauses in ms per GiB (lower is better)",
          headers: ["file size", "node:http: collections", "ours: collections", "node:http: pause ms", "ours: pause ms"],
          rows: gcRows,
        },
        {
          caption: "Server memory during the upload, MiB",
          headers: ["file size", "ours: RSS at start", "ours: peak RSS", "ours: growth", "node:http: peak RSS", "node:http: growth"],
          rows: memoryRows,
        },
      ],
      notes: [
        `At ${formatBytes(largest)} our route streams at ${round(ourLargest, 3)} MiB/s, ${ratio(ourLargest, plainLargest)} a plain file stream's ${round(plainLargest, 3)} MiB/s. ` +
          `The server's memory grows by ${round(growthSmall / MiB, 3)} MiB for ${formatBytes(smallest)} and ${round(growthLarge / MiB, 3)} MiB for ${formatBytes(largest)}: ${Math.abs(growthLarge - growthSmall) < 32 * MiB ? "flat, it does not grow with the file" : "it GROWS with the file size"}.`,
        ...behindNotes(),
      ],
      headline: [
        [`2. ${formatBytes(largest)} PUT to the filesystem backend, MiB/s`, round(ourLargest, 3), `file stream ${round(plainLargest, 3)}`, ratio(ourLargest, plainLargest)],
        [`2. the same, vs a bare node:http server`, round(ourLargest, 3), `node:http ${round(throughput("node:http", largest).median, 3)}`, ratio(ourLargest, throughput("node:http", largest).median)],
        [
          `2. server memory growth during the upload, ${sizes.map(formatBytes).join(" / ")}`,
          sizes.map((size) => `${round(growth("ours", size).median / MiB, 3)}`).join(" / ") + " MiB",
          "node:http " + sizes.map((size) => `${round(growth("node:http", size).median / MiB, 3)}`).join(" / ") + " MiB",
          "—",
        ],
      ],
    } satisfies Section;
  } finally {
    await Promise.allSettled(children.map((child) => child.stop()));
    await database.close();
    await rm(scratch, { recursive: true, force: true });
  }
});

async function measured(server: Child<Info>, upload: () => Promise<void>): Promise<Sample> {
  const { rss } = await server.request<{ rss: number }>("peak-reset");
  await server.request("gc-reset");
  const cpuBefore = await cpuMsOf(server.pid);
  const started = performance.now();
  await upload();
  const ms = performance.now() - started;
  const cpuAfter = await cpuMsOf(server.pid);
  const { peakRss } = await server.request<{ peakRss: number }>("peak");
  // bench/servers/gc-counter.ts, the same in both servers.
  const gc = await server.request<{ major: number; majorMs: number }>("gc");
  return {
    ms,
    idleRss: rss,
    peakRss,
    majorGcs: gc.major,
    majorGcMs: gc.majorMs,
    ...(cpuBefore !== null && cpuAfter !== null ? { cpuMs: cpuAfter - cpuBefore } : {}),
  };
}

/**
 * User + system CPU time of a process so far (Linux: /proc/{pid}/stat, in clock ticks of 10 ms), or
 * null elsewhere. On a shared machine the throughput of either server depends on what else runs; the
 * CPU each one spends per byte much less so.
 */
async function cpuMsOf(pid: number): Promise<number | null> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  // The fields after the command name (which may hold spaces, hence the last ")"): utime and stime are the 12th and 13th.
  const fields = stat?.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (!fields) return null;
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function issue(base: string, size: number): Promise<UploadUrlResponse> {
  const response = await fetch(`${base}/async-uploads/upload-url`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-principal": "bench" },
    body: JSON.stringify({ fieldId: BENCH_FIELD, filename: "big.bin", contentType: CONTENT_TYPE, size }),
  });
  if (response.status !== 201) throw new Error(`upload-url answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as UploadUrlResponse;
}

/** PUTs `size` bytes (the random chunk, repeated) and resolves on a 201. */
function put(url: string, size: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: "PUT",
      headers: { "content-type": CONTENT_TYPE, "content-length": String(size) },
      agent: false,
    });
    req.on("response", (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => (response.statusCode === 201 ? resolve() : reject(new Error(`PUT answered ${response.statusCode}: ${text}`))));
    });
    req.on("error", reject);
    void (async () => {
      for (let sent = 0; sent < size; sent += CHUNK.length) {
        const chunk = size - sent >= CHUNK.length ? CHUNK : CHUNK.subarray(0, size - sent);
        if (!req.write(chunk)) await once(req, "drain");
      }
      req.end();
    })().catch(reject);
  });
}

async function writeFileStream(path: string, size: number): Promise<void> {
  const stream = createWriteStream(path);
  for (let written = 0; written < size; written += CHUNK.length) {
    const chunk = size - written >= CHUNK.length ? CHUNK : CHUNK.subarray(0, size - written);
    if (!stream.write(chunk)) await once(stream, "drain");
  }
  stream.end();
  await once(stream, "close");
}

async function expectSize(path: string, size: number): Promise<void> {
  const actual = (await stat(path)).size;
  if (actual !== size) throw new Error(`${path}: ${actual} bytes stored, ${size} sent`);
}
