import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LiveEvent } from "../../../shared/live";
import { connectDatabase, type Connection } from "../../../server/db/database";
import { encodeMessage, NOTIFY_PAYLOAD_LIMIT, postgresFanout, type Fanout, type LiveMessage } from "../../../server/live/fanout";
import { createAsyncUploads } from "../../../server/create-async-uploads";
import { filesystemStorage } from "../../../server/storage/filesystem";
import { createTestDatabase } from "../../helpers/db";
import { TEST_SECRET } from "../../helpers/uploads";
import { SseReader } from "./sse-reader";

/** Messages a subscription received, and a way to wait for one. */
function collector() {
  const received: LiveMessage[] = [];
  const waiters: (() => void)[] = [];
  return {
    received,
    onMessage(message: LiveMessage) {
      received.push(message);
      for (const wake of waiters.splice(0)) wake();
    },
    /** Waits (at most 5 s) until a message of `topic` has arrived. */
    async until(topic: string) {
      const deadline = Date.now() + 5000;
      while (!received.some((m) => m.topic === topic)) {
        if (Date.now() > deadline) throw new Error(`no message on ${topic} within 5 s (got ${received.map((m) => m.topic).join(", ")})`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
    topics: () => received.map((m) => m.topic),
  };
}

// PostgreSQL when DATABASE_URL names one (as in CI and `npm test` here); PGlite always.
const drivers = [
  { name: "PGlite", open: () => connectDatabase(), postgres: false },
  ...(process.env.DATABASE_URL ? [{ name: "PostgreSQL", open: () => createTestDatabase(), postgres: true }] : []),
];

describe.each(drivers)("postgresFanout on $name", ({ open, postgres }) => {
  let connection: Connection;
  let fanout: Fanout;
  let heard: ReturnType<typeof collector>;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    connection = await open();
    fanout = postgresFanout(connection.db);
    heard = collector();
    stop = await fanout.subscribe(heard.onMessage);
  });
  afterAll(async () => {
    await stop?.();
    await connection?.close();
  });

  it("delivers a message published outside a transaction, with its fields", async () => {
    await fanout.publish({ topic: "upload:plain", event: "processing", data: { state: "queued" }, version: 2 });
    await heard.until("upload:plain");
    expect(heard.received.find((m) => m.topic === "upload:plain")).toEqual({ topic: "upload:plain", event: "processing", data: { state: "queued" }, version: 2 });
  });

  it("delivers a message published in a transaction only after it commits", async () => {
    await connection.db.transaction(async (tx) => {
      await fanout.publish({ topic: "upload:committed", event: "x", data: 1 }, tx);
      if (postgres) {
        // A message sent after ours, outside the transaction, arrives first: ours waits for the commit.
        await fanout.publish({ topic: "upload:marker-1", event: "x", data: 1 });
        await heard.until("upload:marker-1");
      } else {
        // PGlite runs one statement at a time, so nothing else can be sent while the transaction is open.
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(heard.topics()).not.toContain("upload:committed");
    });
    await heard.until("upload:committed");
  });

  it("never delivers a message published in a transaction that rolls back", async () => {
    await expect(
      connection.db.transaction(async (tx) => {
        await fanout.publish({ topic: "upload:rolled-back", event: "x", data: 1 }, tx);
        throw new Error("rollback");
      }),
    ).rejects.toThrow("rollback");
    // Notifications arrive in commit order: once a later message is here, the rolled-back one never will be.
    await fanout.publish({ topic: "upload:marker-2", event: "x", data: 1 });
    await heard.until("upload:marker-2");
    expect(heard.topics()).not.toContain("upload:rolled-back");
  });

  it("refuses a payload NOTIFY would refuse, before sending, and the connection stays usable", async () => {
    await expect(fanout.publish({ topic: "upload:big", event: "x", data: "y".repeat(8000) })).rejects.toThrow(/at most 7999 bytes/);
    await connection.db.transaction(async (tx) => {
      await expect(fanout.publish({ topic: "upload:big", event: "x", data: "é".repeat(4000) }, tx)).rejects.toThrow(/8\d{3} bytes once encoded/);
      await fanout.publish({ topic: "upload:after-big", event: "x", data: 1 }, tx);
    });
    await heard.until("upload:after-big");
  });

  it("carries the largest payload it allows (7999 bytes) intact", async () => {
    const overhead = encodeMessage({ topic: "upload:edge", event: "x", data: "" }).length;
    const data = "z".repeat(NOTIFY_PAYLOAD_LIMIT - overhead);
    expect(Buffer.byteLength(encodeMessage({ topic: "upload:edge", event: "x", data }))).toBe(7999);
    await fanout.publish({ topic: "upload:edge", event: "x", data });
    await heard.until("upload:edge");
    expect(heard.received.find((m) => m.topic === "upload:edge")?.data).toBe(data);
  });

  it("ignores notifications on its channel that are not its messages", async () => {
    const channel = postgres ? `async_uploads_live_${(connection as { schema?: string }).schema}` : "async_uploads_live";
    await connection.db.execute(sql`select pg_notify(${channel}, 'not json'), pg_notify(${channel}, '{"t":1}')`);
    await fanout.publish({ topic: "upload:after-foreign", event: "x", data: 1 });
    await heard.until("upload:after-foreign");
    expect(heard.received.every((m) => typeof m.topic === "string")).toBe(true);
  });
});

describe.each(drivers)("the first message of a fan-out on $name", ({ open }) => {
  it("may be published inside a transaction (the channel is looked up on that transaction, not beside it)", async () => {
    const connection = await open();
    try {
      const fanout = postgresFanout(connection.db);
      // PGlite runs one transaction at a time: a look-up on db while tx is open would wait for ever.
      await connection.db.transaction(async (tx) => {
        await fanout.publish({ topic: "upload:first", event: "x", data: 1 }, tx);
      });
      const heard = collector();
      const stop = await fanout.subscribe(heard.onMessage);
      await fanout.publish({ topic: "upload:second", event: "x", data: 1 });
      await heard.until("upload:second");
      await stop();
    } finally {
      await connection.close();
    }
  });
});

describe.skipIf(!process.env.DATABASE_URL)("several instances on one PostgreSQL database", () => {
  const url = process.env.DATABASE_URL!;
  let first: Awaited<ReturnType<typeof createTestDatabase>>;
  let second: Connection;
  let otherSchema: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    first = await createTestDatabase();
    second = await connectDatabase({ url, schema: first.schema! });
    otherSchema = await createTestDatabase();
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
    await otherSchema?.close();
  });

  it("a message published through one instance reaches a stream on the other, and not a stream of another schema", async () => {
    const make = (db: Connection["db"]) =>
      createAsyncUploads({ db, secret: TEST_SECRET, storage: filesystemStorage({ root: "/tmp/unused-live" }), getPrincipal: () => "alice" });
    const publisher = make(first.db);
    const listener = make(second.db);
    const stranger = make(otherSchema.db);
    try {
      const streams = await Promise.all([listener, stranger].map((uploads) => uploads.routes.request("http://localhost/events")));
      const [near, far] = streams.map((response) => new SseReader(response.body!));
      await near!.expect("ready");
      await far!.expect("ready");
      await publisher.transaction(async (tx) => {
        await publisher.publish("user:alice", "saved", { id: 1 }, { tx });
      });
      expect(await near!.expect<LiveEvent>("saved")).toEqual({ topic: "user:alice", event: "saved", data: { id: 1 }, version: 0 });
      // The stranger's own message arrives; the other schema's one never came before it.
      await stranger.publish("user:alice", "own", 2);
      expect((await far!.nextEvent()).event).toBe("own");
      await near!.cancel();
      await far!.cancel();
    } finally {
      await Promise.all([publisher, listener, stranger].map((uploads) => uploads.close()));
    }
  });
});
