/**
 * Question 7: how quickly does the live channel deliver, and what does a held stream cost?
 * - latency from `uploads.publish` (one instance) to the client's event handler (a stream on another
 *   instance, through PostgreSQL NOTIFY), p50/p95 — goal p95 ≤ 250 ms;
 * - a broadcast to 1,000 subscribers, p50 of their latencies — goal ≤ 150 ms;
 * - streams held by one instance and memory per stream (RSS and heap delta, after GC) — goal ≥ 5,000
 *   streams at ≤ 64 KiB each;
 * - streams, hub listeners and connections left after every client aborts — goal 0.
 *
 * The server is its own process (bench/servers/live-server.ts); the clients (raw-socket SSE readers,
 * bench/lib/sse-socket.ts) and the publisher (a second `createAsyncUploads` on the same schema) run here.
 * Runs alone: `npx tsx bench/live.ts [--quick]`.
 */
import { createAsyncUploads } from "../server/create-async-uploads";
import { userTopic } from "../server/live/live-channel";
import { filesystemStorage } from "../server/storage/filesystem";
import { launchBrowser } from "../test/helpers/browser";
import { scratchDir } from "./lib/cleanup";
import { startChild } from "./lib/child";
import { BENCH_SECRET } from "./lib/constants";
import { createBenchDatabase } from "./lib/database";
import { progress, runBench } from "./lib/report";
import { formatBytes, round } from "./lib/stats";
import { openSseSocket, type SseSocket } from "./lib/sse-socket";

interface ServerStats {
  streams: number;
  listeners: number;
  topics: number;
  connections: number;
  rss: number;
  heapUsed: number;
  gc: boolean;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const ms = (value: number) => `${round(value)} ms`;
const sleep = (time: number) => new Promise((resolve) => setTimeout(resolve, time));

await runBench(async ({ quick }) => {
  const latencyEvents = quick ? 50 : 300;
  const subscribers = quick ? 200 : 1000;
  const broadcastRounds = quick ? 3 : 10;
  const heldStreams = quick ? 500 : 5000;

  const database = await createBenchDatabase();
  const root = await scratchDir("bench-live-");
  const server = await startChild<{ url: string; origin: string }>("servers/live-server.ts", [], {
    BENCH_DB_URL: database.url,
    BENCH_DB_SCHEMA: database.schema,
    BENCH_FS_ROOT: root,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --expose-gc`,
  });
  const publisher = createAsyncUploads({ db: database.db, secret: BENCH_SECRET, storage: filesystemStorage({ root }), getPrincipal: () => null });
  const sockets: SseSocket[] = [];
  const stats = () => server.request<ServerStats>("stats");
  try {
    // --- 1. publish → handler latency, one stream, events one after another
    progress(`live: latency over ${latencyEvents} events`);
    const arrivals = new Map<number, number>();
    const latencyStream = openSseSocket(server.info.url, "latency", (event, data, at) => {
      if (event === "tick") arrivals.set((JSON.parse(data) as { data: number }).data, at);
    });
    sockets.push(latencyStream);
    await latencyStream.ready;
    const measureLatency = async (count: number, from: number) => {
      const latencies: number[] = [];
      for (let seq = from; seq < from + count; seq++) {
        const started = performance.now();
        await publisher.publish(userTopic("latency"), "tick", seq);
        while (!arrivals.has(seq)) await new Promise((resolve) => setImmediate(resolve));
        latencies.push(arrivals.get(seq)! - started);
        await sleep(2);
      }
      return latencies;
    };
    await measureLatency(20, -100); // warm-up
    const latency = await measureLatency(latencyEvents, 0);

    // --- 1b. the same, to a real browser's EventSource handler (Chromium); the page computes each
    // latency itself against the publish time (both clocks: timeOrigin + now, on this machine)
    const browserEvents = quick ? 20 : 100;
    progress(`live: latency to Chromium over ${browserEvents} events`);
    const browser = await launchBrowser();
    let browserLatency: number[];
    try {
      const context = await browser.newContext();
      await context.addCookies([{ name: "who", value: "browser", url: server.info.origin }]);
      const page = await context.newPage();
      const heard = new Map<number, number>();
      let wake = () => {};
      await page.exposeFunction("arrived", (seq: number, latency: number) => {
        heard.set(seq, latency);
        wake();
      });
      await page.goto(server.info.origin);
      await page.evaluate(
        () =>
          new Promise<void>((resolve) => {
            const source = new EventSource("/async-uploads/events");
            source.addEventListener("ready", () => resolve());
            source.addEventListener("tick", (event) => {
              const at = performance.timeOrigin + performance.now();
              const { data } = JSON.parse((event as MessageEvent).data) as { data: { seq: number; sentAt: number } };
              void (window as unknown as { arrived(seq: number, latency: number): Promise<void> }).arrived(data.seq, at - data.sentAt);
            });
          }),
      );
      for (let seq = -10; seq < browserEvents; seq++) {
        const arrived = new Promise<void>((resolve) => (wake = resolve));
        await publisher.publish(userTopic("browser"), "tick", { seq, sentAt: performance.timeOrigin + performance.now() });
        await arrived;
        await sleep(2);
      }
      browserLatency = [...heard].filter(([seq]) => seq >= 0).map(([, latency]) => latency);
      await context.close();
    } finally {
      await browser.close();
    }

    // --- 2. broadcast to N subscribers
    const baseline = await stats();
    progress(`live: opening ${subscribers} subscribers`);
    const broadcastArrivals: number[][] = [];
    const open = async (count: number, prefix: string, onEvent?: (event: string, data: string, at: number) => void) => {
      for (let i = 0; i < count; i += 200) {
        const batch = Array.from({ length: Math.min(200, count - i) }, (_, j) => openSseSocket(server.info.url, `${prefix}-${i + j}`, onEvent ?? (() => {})));
        sockets.push(...batch);
        await Promise.all(batch.map((s) => s.ready));
      }
    };
    await open(subscribers, "sub", (event, data, at) => {
      if (event === "all") broadcastArrivals[(JSON.parse(data) as { data: number }).data]!.push(at);
    });
    progress(`live: ${broadcastRounds} broadcasts to ${subscribers}`);
    const broadcastP50: number[] = [];
    const broadcastLast: number[] = [];
    for (let round = 0; round < broadcastRounds; round++) {
      broadcastArrivals[round] = [];
      const started = performance.now();
      await publisher.publish("broadcast", "all", round);
      // Every stream hears broadcast: the latency stream and the subscribers.
      while (broadcastArrivals[round]!.length < subscribers) await sleep(1);
      const times = broadcastArrivals[round]!.map((at) => at - started);
      broadcastP50.push(percentile(times, 50));
      broadcastLast.push(Math.max(...times));
      await sleep(200);
    }

    // --- 3. streams held and memory per stream
    progress(`live: holding ${heldStreams} streams`);
    await open(heldStreams - subscribers, "held");
    const held = await stats();
    const perStreamRss = (held.rss - baseline.rss) / (held.streams - baseline.streams);
    const perStreamHeap = (held.heapUsed - baseline.heapUsed) / (held.streams - baseline.streams);
    progress("live: latency with every stream held");
    const loadedLatency = await measureLatency(quick ? 20 : 100, 1_000_000);

    // --- 4. every client aborts: half reset, half half-closed
    progress("live: aborting every client");
    sockets.forEach(({ socket }, i) => (i % 2 === 0 ? socket.destroy() : socket.end()));
    const deadline = Date.now() + 10_000;
    let after = await stats();
    while ((after.streams > 0 || after.connections > 0) && Date.now() < deadline) {
      await sleep(250);
      after = await stats();
    }

    const row = (name: string, value: string, goal: string, met: boolean) => [name, value, goal, met ? "met" : "MISSED"];
    return {
      order: 7,
      title: "Live events: publish → handler latency, broadcast, streams held, leaks",
      method: [
        "One server process (`createAsyncUploads`, `GET /events` on @hono/node-server, PostgreSQL LISTEN); a second process publishes through its own `createAsyncUploads` on the same schema (NOTIFY) and holds every client stream on raw sockets, parsing SSE as EventSource does.",
        `Latency: ${latencyEvents} events one after another (20 warm-up), from before \`publish\` to the raw-socket client's handler; again (${quick ? 20 : 100} events) with every stream held; and ${browserEvents} events (10 warm-up) to an \`EventSource\` handler in headless Chromium, which computes each latency itself (\`performance.timeOrigin + now()\` on both sides, one machine).`,
        `Broadcast: ${broadcastRounds} events on \`broadcast\` to ${subscribers} streams (+1); per round the p50 and the last arrival, median over rounds. The ${subscribers} readers share one Node event loop here (a browser per tab would not), so the last arrival is an upper bound.`,
        `Memory: RSS and V8 heap of the server after a full GC, before the ${subscribers} subscribers and with ${held.streams} streams open, divided by the streams added.`,
        "Leaks: every client aborts (half reset, half half-closed with FIN); then streams, hub listeners and TCP connections the server still counts.",
      ],
      tables: [
        {
          headers: ["figure", "value", "goal", ""],
          rows: [
            row("publish → handler p50", ms(percentile(latency, 50)), "", true),
            row("publish → handler p95", ms(percentile(latency, 95)), "≤ 250 ms", percentile(latency, 95) <= 250),
            row("publish → Chromium EventSource handler p50", ms(percentile(browserLatency, 50)), "", true),
            row("publish → Chromium EventSource handler p95", ms(percentile(browserLatency, 95)), "≤ 250 ms", percentile(browserLatency, 95) <= 250),
            row(`publish → handler p95, ${held.streams} streams held`, ms(percentile(loadedLatency, 95)), "≤ 250 ms", percentile(loadedLatency, 95) <= 250),
            row(`broadcast to ${subscribers}: p50 (median of rounds)`, ms(percentile(broadcastP50, 50)), "≤ 150 ms", percentile(broadcastP50, 50) <= 150),
            row(`broadcast to ${subscribers}: last arrival (median of rounds)`, ms(percentile(broadcastLast, 50)), "", true),
            row("streams held by one instance", String(held.streams), "≥ 5,000", held.streams >= 5000),
            row("memory per stream (RSS delta)", formatBytes(perStreamRss), "≤ 64 KiB", Math.max(perStreamRss, perStreamHeap) <= 64 * 1024),
            row("memory per stream (heap delta)", formatBytes(perStreamHeap), "≤ 64 KiB", Math.max(perStreamRss, perStreamHeap) <= 64 * 1024),
            row("server RSS with every stream held", formatBytes(held.rss), "", true),
            row("streams / listeners / connections left after abort", `${after.streams} / ${after.listeners} / ${after.connections}`, "0", after.streams + after.listeners + after.connections === 0),
          ],
        },
      ],
      notes: held.gc ? [] : ["The server ran without --expose-gc: memory figures include garbage."],
      headline: [
        ["live event publish → browser handler p95", ms(percentile(browserLatency, 95)), "goal 250 ms", ""],
        [`live broadcast to ${subscribers}, p50`, ms(percentile(broadcastP50, 50)), "goal 150 ms", ""],
        ["live streams held / memory per stream", `${held.streams} / ${formatBytes(perStreamRss)}`, "goal 5,000 / 64 KiB", ""],
        ["live streams leaked after abort", String(after.streams), "goal 0", ""],
      ],
    };
  } finally {
    for (const { socket } of sockets) socket.destroy();
    await publisher.close();
    await server.stop();
    await database.close();
  }
});
