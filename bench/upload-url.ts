/**
 * Question 1: how fast is `POST upload-url` (validation, signing, the count query and the PostgreSQL
 * insert) under concurrent load, per backend — beside a bare Hono route (the framework's floor) and
 * Uppy Companion's S3 signing endpoint (the peer)?
 *
 * Each server runs in its own child process; autocannon runs in this process. Targets take turns,
 * round by round, so that noise from other work on the machine falls on all of them.
 */
import autocannon from "autocannon";
import { rm } from "node:fs/promises";
import { startAzurite } from "../test/helpers/emulators";
import { onInterrupt, scratchDir } from "./lib/cleanup";
import { startChild, type Child } from "./lib/child";
import { BENCH_FIELD } from "./lib/constants";
import { createBenchDatabase } from "./lib/database";
import { progress, runBench, type Section } from "./lib/report";
import { ratio, round, spread, summarize } from "./lib/stats";
import { versions } from "./lib/versions";

type Info = { url: string };
interface Target {
  name: string;
  /** What the request does beyond the framework. */
  does: string;
  child: Child<Info>;
  method: "POST" | "GET";
  path: string;
  body?: string;
  /** Rows are counted after each run to show the insert really happened. */
  inserts: boolean;
}
interface Run {
  rps: number;
  p50: number;
  p99: number;
}

const CONNECTIONS = 32;
/** Enough principals that each holds only a few unsaved uploads, as in real use. */
const PRINCIPALS = 10_000;
const REQUEST = { fieldId: BENCH_FIELD, filename: "holiday photo.jpg", contentType: "image/jpeg", size: 2_345_678 };

await runBench(async ({ quick }) => {
  const rounds = quick ? 1 : 3;
  const seconds = quick ? 1 : 4;
  const warmupSeconds = quick ? 0.5 : 1;

  const database = await createBenchDatabase();
  const fsRoot = await scratchDir("bench-upload-url-");
  const children: Child<Info>[] = [];
  const stops: Array<() => Promise<void>> = [];
  try {
    progress("upload-url: starting s3rver, Azurite and the servers");
    const s3rver = await startChild<{ endpoint: string; region: string; bucket: string; credentials: object }>("servers/s3rver-server.ts");
    stops.push(s3rver.stop);
    const azurite = await startAzurite({ container: "bench" });
    stops.push(azurite.stop);
    onInterrupt(azurite.stop);
    const env = {
      BENCH_DB_URL: database.url,
      BENCH_DB_SCHEMA: database.schema,
      BENCH_FS_ROOT: fsRoot,
      BENCH_S3: JSON.stringify(s3rver.info),
      BENCH_AZURE: JSON.stringify({ connectionString: azurite.connectionString, container: azurite.container }),
    };
    const start = async (script: string, extra: Record<string, string> = {}) => {
      const child = await startChild<Info>(script, [], { ...env, ...extra });
      children.push(child);
      return child;
    };
    const body = JSON.stringify(REQUEST);
    const ours = (backend: string): Promise<Target> =>
      start("servers/async-uploads-server.ts", { BENCH_BACKEND: backend }).then((child) => ({
        name: `async-uploads, ${backend}`,
        does: "validate, sign, count + insert in PostgreSQL",
        child,
        method: "POST",
        path: "/async-uploads/upload-url",
        body,
        inserts: true,
      }));
    const targets: Target[] = [
      await ours("filesystem"),
      await ours("s3"),
      await ours("azure"),
      {
        name: "bare Hono route (floor)",
        does: "parse JSON, answer JSON",
        child: await start("servers/bare-hono-server.ts"),
        method: "POST",
        path: "/upload-url",
        body,
        inserts: false,
      },
      {
        name: "Uppy Companion `/s3/params` (peer)",
        does: "sign an S3 presigned POST",
        child: await start("servers/companion-server.ts"),
        method: "GET",
        path: `/s3/params?${new URLSearchParams({ filename: REQUEST.filename, type: REQUEST.contentType })}`,
        inserts: false,
      },
      {
        name: "bare INSERT of the same row (database floor)",
        does: "parse JSON, one prepared INSERT (postgres.js, pool of 10), answer JSON",
        child: await start("servers/bare-insert-server.ts"),
        method: "POST",
        path: "/upload-url",
        body,
        inserts: true,
      },
    ];

    const runs = new Map<Target, Run[]>(targets.map((target) => [target, []]));
    const rowChecks: string[] = [];
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < targets.length; i++) {
        const target = targets[(i + round) % targets.length]!;
        progress(`upload-url: round ${round + 1}/${rounds}, ${target.name}`);
        // JIT and connection pools warm up once; later rounds start straight away.
        if (round === 0) await load(target, warmupSeconds);
        if (target.inserts) {
          await settle(database);
          await database.truncate();
        }
        const result = await load(target, seconds);
        if (target.inserts) {
          await settle(database);
          const rows = await database.count();
          const ok = result["2xx"];
          if (rows < ok || rows > ok + CONNECTIONS) throw new Error(`${target.name}: ${ok} answers 201 but ${rows} rows`);
          rowChecks.push(`${target.name}: ${ok} × 201, ${rows} rows`);
        }
        runs.get(target)!.push({ rps: result["2xx"] / result.duration, p50: result.latency.p50, p99: result.latency.p99 });
      }
    }

    const medians = new Map(targets.map((target) => {
      const list = runs.get(target)!;
      return [target, { rps: summarize(list.map((run) => run.rps)), p50: summarize(list.map((run) => run.p50)), p99: summarize(list.map((run) => run.p99)) }];
    }));
    const bare = medians.get(targets[3]!)!;
    const companion = medians.get(targets[4]!)!;
    const insertFloor = medians.get(targets[5]!)!;
    const rows = targets.map((target) => {
      const m = medians.get(target)!;
      return [
        target.name,
        target.does,
        spread(m.rps, (value) => round(value, 4)),
        spread(m.p50, (value) => round(value, 2)),
        spread(m.p99, (value) => round(value, 2)),
        ratio(m.rps.median, bare.rps.median),
        ratio(m.rps.median, companion.rps.median),
        ratio(m.rps.median, insertFloor.rps.median),
        ratio(m.p99.median, companion.p99.median),
      ];
    });
    const oursBest = Math.max(...targets.slice(0, 3).map((target) => medians.get(target)!.rps.median));
    const oursWorst = Math.min(...targets.slice(0, 3).map((target) => medians.get(target)!.rps.median));
    return {
      order: 1,
      title: "Issuing upload URLs (`POST upload-url`)",
      method: [
        `${versions("autocannon")} in the bench process, ${CONNECTIONS} connections, no pipelining; each server in its own child process (@hono/node-server, or Express for Companion). Both share the machine's 2 cores.`,
        `${rounds} round(s) of ${seconds} s per target, after a ${warmupSeconds} s warm-up of each server in the first round; targets take turns each round. Figures are median (min–max) over the rounds.`,
        `Our route: JSON body ${JSON.stringify(REQUEST)}, principal from a header rotating over ${PRINCIPALS.toLocaleString("en-US")} users; every 201 is a row in PostgreSQL (checked after each run: ${rowChecks.slice(-3).join("; ")}).`,
        `Peers: ${versions("hono", "@hono/node-server", "@uppy/companion")}.`,
        "S3 signs a presigned POST (policy with exact key, type, length), Azure a create-only blob SAS, the filesystem an HMAC token; none of them calls the storage service. Companion signs a presigned POST for the same s3rver bucket.",
      ],
      tables: [
        {
          headers: ["target", "work per request", "req/s", "p50 ms", "p99 ms", "req/s vs bare Hono", "req/s vs Companion", "req/s vs bare INSERT", "p99 vs Companion"],
          rows,
        },
      ],
      notes: [
        `Our route serves ${round(oursWorst / companion.rps.median, 3)}–${round(oursBest / companion.rps.median, 3)}× Companion's requests per second and ${round(oursWorst / bare.rps.median, 3)}–${round(oursBest / bare.rps.median, 3)}× the bare Hono route's and ${round(oursWorst / insertFloor.rps.median, 3)}–${round(oursBest / insertFloor.rps.median, 3)}× a bare INSERT of the same row from the same kind of process (the database's floor).`,
        (oursBest < companion.rps.median ? "Where we are behind Companion, and why: " : "Why the gap to the framework's floor: ") +
          "Companion only signs. Our route also checks the request against the field (zod schema, size, type), counts the person's unsaved uploads under an advisory lock and inserts the `async_temp_file` row that commit and cleanup depend on — one PostgreSQL statement per request (the prepared call of `async_uploads_insert_pending`: lock, count, insert, autocommit), the insert with its WAL flush, pipelined on a pool of 10 connections as the bare INSERT is, with PostgreSQL itself on the same 2 cores. The bare Hono route shows what the framework costs; the bare INSERT what the database costs.",
      ],
      headline: targets.slice(0, 3).map((target) => {
        const m = medians.get(target)!;
        return [`1. upload URLs per second (${target.name.replace("async-uploads, ", "")})`, round(m.rps.median, 4), `Companion ${round(companion.rps.median, 4)}`, ratio(m.rps.median, companion.rps.median)];
      }).concat([[
        "1. upload URLs per second (S3) vs a bare INSERT of the same row",
        round(medians.get(targets[1]!)!.rps.median, 4),
        `bare INSERT ${round(insertFloor.rps.median, 4)}`,
        ratio(medians.get(targets[1]!)!.rps.median, insertFloor.rps.median),
      ], [
        "1. upload URL p99 latency, ms (S3)",
        round(medians.get(targets[1]!)!.p99.median, 3),
        `Companion ${round(companion.p99.median, 3)}`,
        ratio(medians.get(targets[1]!)!.p99.median, companion.p99.median),
      ]]),
    } satisfies Section;

    async function load(target: Target, duration: number) {
      let next = 0;
      const result = await autocannon({
        url: target.child.info.url,
        connections: CONNECTIONS,
        duration,
        requests: [
          {
            method: target.method,
            path: target.path,
            ...(target.body ? { body: target.body } : {}),
            setupRequest: (request: autocannon.Request) => {
              request.headers = {
                ...(target.body ? { "content-type": "application/json" } : {}),
                "x-principal": `user-${next++ % PRINCIPALS}`,
              };
              return request;
            },
          },
        ],
      });
      if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0) {
        const sample = await fetch(target.child.info.url + target.path, {
          method: target.method,
          headers: { "content-type": "application/json", "x-principal": "probe" },
          ...(target.body ? { body: target.body } : {}),
        }).then(async (response) => `${response.status} ${(await response.text()).slice(0, 300)}`);
        throw new Error(`${target.name}: ${result.errors} errors, ${result.non2xx} non-2xx, ${result.timeouts} timeouts (a probe answered ${sample})`);
      }
      return result;
    }
  } finally {
    await Promise.allSettled(children.map((child) => child.stop()));
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await database.close();
    await rm(fsRoot, { recursive: true, force: true });
  }
});

/**
 * Requests still in flight when autocannon stops may reach the database a moment later (seconds later
 * on a loaded machine): waits until the row count stops changing.
 */
async function settle(database: { count(): Promise<number> }): Promise<void> {
  let last = -1;
  for (let rows = await database.count(); rows !== last; rows = await database.count()) {
    last = rows;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
