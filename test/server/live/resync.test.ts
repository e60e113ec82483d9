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

async function setUp(fanout?: (real: Fanout) => Fanout) {
  const connection = await createTestDatabase();
  cleanups.push(() => connection.close());
  const uploads = createAsyncUploads({
    db: connection.db,
    secret: TEST_SECRET,
    storage: filesystemStorage({ root: "/tmp/unused-live-resync" }),
    getPrincipal: () => "alice",
    live: { probeSeconds: 0.3, ...(fanout ? { fanout: fanout(postgresFanout(connection.db)) } : {}) },
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
