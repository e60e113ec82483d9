import postgres from "postgres";
import { afterEach, describe, expect, it } from "vitest";
import type { LiveEvent, LiveStreamClosed } from "../../../shared/live";
import { createAsyncUploads, type AsyncUploads } from "../../../server/create-async-uploads";
import { postgresFanout, type Fanout } from "../../../server/live/fanout";
import { userTopic } from "../../../server/live/live-channel";
import { filesystemStorage } from "../../../server/storage/filesystem";
import { createTestDatabase } from "../../helpers/db";
import { TEST_SECRET } from "../../helpers/uploads";
import { SseReader } from "./sse-reader";

// A gap in the fan-out (the LISTEN connection cut, or a subscription that stopped hearing) must not
// leave pages believing a stale state: the instance's streams are told to reconnect, and their
// snapshots bring back what was missed; new streams hear again.
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(fanout?: (real: Fanout) => Fanout, live: { maxStreams?: number; maxStreamsPerPrincipal?: number } = {}) {
  const connection = await createTestDatabase();
  cleanups.push(() => connection.close());
  const uploads = createAsyncUploads({
    db: connection.db,
    secret: TEST_SECRET,
    storage: filesystemStorage({ root: "/tmp/unused-live-resync" }),
    getPrincipal: (c) => c.req.header("x-principal") ?? "alice",
    live: { probeSeconds: 0.3, ...live, ...(fanout ? { fanout: fanout(postgresFanout(connection.db)) } : {}) },
    log: () => {},
  });
  cleanups.push(() => uploads.close());
  return { connection, uploads };
}

async function openStream(uploads: AsyncUploads): Promise<SseReader> {
  const stream = new SseReader((await uploads.routes.request("http://localhost/events")).body!);
  cleanups.push(() => stream.cancel());
  await stream.expect("ready");
  return stream;
}

async function expectHeard(uploads: AsyncUploads, stream: SseReader, n: number): Promise<void> {
  await uploads.publish(userTopic("alice"), "note", n);
  expect(await stream.expect<LiveEvent>("note")).toMatchObject({ data: n });
}

describe.skipIf(!process.env.DATABASE_URL)("a cut LISTEN connection (PostgreSQL)", () => {
  it("tells the streams to reconnect, and new streams hear again", async () => {
    const { connection, uploads } = await setUp();
    const before = await openStream(uploads);
    await expectHeard(uploads, before, 1);

    const admin = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
    try {
      const killed = await admin`select pg_terminate_backend(pid) as done from pg_stat_activity
        where query = ${`listen "async_uploads_live_${connection.schema}"`}`;
      expect(killed).toHaveLength(1);
    } finally {
      await admin.end({ timeout: 5 });
    }
    expect(await before.expect<LiveStreamClosed>("stream-closed", 10_000)).toMatchObject({ code: "missed_events" });
    expect(await before.ended()).toBe(true);

    const after = await openStream(uploads);
    await expectHeard(uploads, after, 2);
  });
});

describe("a subscription that stops hearing", () => {
  it("is found by its probe, replaced, and the streams are told to reconnect", async () => {
    let generation = 0;
    let deaf = -1;
    const { uploads } = await setUp((real) => ({
      publish: (message, tx) => real.publish(message, tx),
      subscribe: (onMessage, onListening) => {
        const mine = ++generation;
        // Fault injection: this subscription drops everything once `deaf` names it (a LISTEN gone silent).
        return real.subscribe((message) => mine !== deaf && onMessage(message), onListening);
      },
    }));
    const before = await openStream(uploads);
    await expectHeard(uploads, before, 1);
    deaf = generation;
    expect(await before.expect<LiveStreamClosed>("stream-closed", 10_000)).toMatchObject({ code: "missed_events" });
    expect(generation).toBe(2);
    const after = await openStream(uploads);
    await expectHeard(uploads, after, 2);
  });
});

describe("when a stream cannot be had", () => {
  it("answers 503 live_unavailable while the fan-out cannot listen, and streams once it can", async () => {
    let failures = 1;
    const { uploads } = await setUp((real) => ({
      publish: (message, tx) => real.publish(message, tx),
      subscribe: (onMessage, onListening) =>
        failures-- > 0 ? Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432")) : real.subscribe(onMessage, onListening),
    }));
    const refused = await uploads.routes.request("http://localhost/events");
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({ error: { code: "live_unavailable", message: expect.stringContaining("unavailable") } });
    expect(uploads.live.stats().streams).toBe(0);
    const stream = await openStream(uploads);
    await expectHeard(uploads, stream, 1);
  });

  it("answers 503 past maxStreams on the instance, but a principal at its own bound still replaces its oldest", async () => {
    const { uploads } = await setUp(undefined, { maxStreams: 2, maxStreamsPerPrincipal: 1 });
    const as = (principal: string) => uploads.routes.request("http://localhost/events", { headers: { "x-principal": principal } });
    const [alice, bob] = [new SseReader((await as("alice")).body!), new SseReader((await as("bob")).body!)];
    for (const stream of [alice!, bob!]) cleanups.push(() => stream.cancel());
    const full = await as("carol");
    expect(full.status).toBe(503);
    expect(await full.json()).toMatchObject({ error: { code: "live_unavailable", message: expect.stringContaining("as many live streams") } });
    expect(uploads.live.stats().streams).toBe(2);
    // Alice's new tab takes the place of her old one: the instance holds no more than before.
    const aliceAgain = new SseReader((await as("alice")).body!);
    cleanups.push(() => aliceAgain.cancel());
    await aliceAgain.expect("ready");
    await alice!.expect("ready");
    expect(await alice!.expect<LiveStreamClosed>("stream-closed")).toMatchObject({ code: "too_many_streams" });
    expect(uploads.live.stats().streams).toBe(2);
    await bob!.cancel();
    const deadline = Date.now() + 5000;
    while (uploads.live.stats().streams > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const freed = await as("carol");
    expect(freed.status).toBe(200);
    await freed.body?.cancel();
  });
});
