import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDatabase, type Connection } from "../../../server/db/database";
import { postgresFanout, type Fanout, type LiveMessage } from "../../../server/live/fanout";
import { createLiveChannel } from "../../../server/live/live-channel";
import { createTestDatabase } from "../../helpers/db";

// PostgreSQL when DATABASE_URL names one; PGlite always (as fanout.test.ts).
const drivers = [
  { name: "PGlite", open: () => connectDatabase() },
  ...(process.env.DATABASE_URL ? [{ name: "PostgreSQL", open: () => createTestDatabase() }] : []),
];

describe.each(drivers)("postgresFanout.publishMany on $name", ({ open }) => {
  let connection: Connection;
  let fanout: Fanout;
  const received: LiveMessage[] = [];
  let stop: () => Promise<void>;

  beforeAll(async () => {
    connection = await open();
    fanout = postgresFanout(connection.db);
    stop = await fanout.subscribe((message) => received.push(message));
  });
  afterAll(async () => {
    await stop?.();
    await connection?.close();
  });

  const until = async (count: number, what: string) => {
    const deadline = Date.now() + 20_000;
    while (received.filter((m) => m.event === what).length < count) {
      if (Date.now() > deadline) throw new Error(`${received.filter((m) => m.event === what).length} of ${count} "${what}" messages arrived`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  it("delivers 1,200 messages (three statements) in order, only when the transaction commits; none after a rollback", async () => {
    const messages = Array.from({ length: 1200 }, (_, i) => ({ topic: `export:e${i % 7}`, event: "many", data: { i, text: "é ' \" \\ \n" }, version: i + 1 }));
    await expect(
      connection.db.transaction(async (tx) => {
        await fanout.publishMany!(messages.map((m) => ({ ...m, event: "rolled-back" })), tx);
        throw new Error("rollback");
      }),
    ).rejects.toThrow("rollback");
    await connection.db.transaction(async (tx) => {
      await fanout.publishMany!(messages, tx);
      expect(received.filter((m) => m.event === "many")).toHaveLength(0);
    });
    await until(1200, "many");
    expect(received.filter((m) => m.event === "many")).toEqual(messages);
    expect(received.filter((m) => m.event === "rolled-back")).toHaveLength(0);
  }, 60_000);

  it("through the live channel: each message is checked as publish checks it, and a refused one sends none", async () => {
    const live = createLiveChannel({ db: connection.db, fanout, secret: "s".repeat(40), now: () => Date.now(), log: () => {} });
    await live.publishMany([{ topic: "user:a", event: "checked", data: 1, version: 1 }]);
    await until(1, "checked");
    await expect(live.publishMany([{ topic: "user:a", event: "bad", data: 1 }, { topic: "not a topic", event: "bad", data: 1 }])).rejects.toThrow();
    await live.publishMany([{ topic: "user:a", event: "checked", data: 2, version: 2 }]);
    await until(2, "checked");
    expect(received.filter((m) => m.event === "bad")).toHaveLength(0);
  });
});
