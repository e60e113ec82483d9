import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LiveEvent, LiveReady, LiveStreamClosed, LiveTopicRefused } from "../../../shared/live";
import { signToken } from "../../../server/tokens";
import { createAsyncUploads } from "../../../server/create-async-uploads";
import { userTopic } from "../../../server/live/live-channel";
import { createTestUploads, TEST_SECRET, type TestUploads } from "../../helpers/uploads";
import { SseReader } from "./sse-reader";

// The events route through app.request (no network), on the test database (PostgreSQL when
// DATABASE_URL is set, its own schema and so its own NOTIFY channel; PGlite otherwise).
let t: TestUploads;
let clock = Date.now();
const snapshots = new Map<string, { event: string; data: unknown; version: number }>();
const open: SseReader[] = [];
const logged: string[] = [];

beforeAll(async () => {
  t = await createTestUploads({
    now: () => new Date(clock),
    live: { heartbeatSeconds: 0.2, maxStreamsPerPrincipal: 3, maxTopicsPerStream: 5, snapshotTimeoutSeconds: 0.3 },
    log: (message) => logged.push(message),
    allowedOrigins: ["https://app.example"],
    register: (uploads) =>
      uploads.live.registerSnapshot("doc", async (id, principal) => {
        if (id === "hangs") return new Promise(() => {});
        if (id === "throws") throw new Error("snapshot query failed");
        return snapshots.get(`${principal}/${id}`) ?? null;
      }),
  });
});
afterAll(async () => {
  for (const reader of open) await reader.cancel();
  await t.uploads.close();
  await t.close();
});

async function connect(query = "", as: string | null = "alice", headers: Record<string, string> = {}): Promise<SseReader> {
  const response = await t.request(`/events${query}`, { as, headers });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/event-stream");
  const reader = new SseReader(response.body!);
  open.push(reader);
  return reader;
}

const tokens = (...list: string[]) => `?${list.map((token) => `topic=${encodeURIComponent(token)}`).join("&")}`;

describe("GET /events", () => {
  it("answers 401 JSON without a principal", async () => {
    const response = await t.request("/events", { as: null });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: { code: "unauthenticated", message: expect.any(String) } });
  });

  it("refuses a stream opened from another site (403), and takes one from the page's own or an allowed origin", async () => {
    for (const headers of [{ origin: "https://evil.example" }, { "sec-fetch-site": "cross-site" }] as Record<string, string>[]) {
      const response = await t.request("/events", { headers });
      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({ error: { code: "forbidden", message: expect.any(String) } });
    }
    expect(t.uploads.live.stats().streams).toBe(0);
    for (const origin of ["http://localhost", "https://app.example"]) {
      const stream = await connect("", "alice", { origin, "sec-fetch-site": "same-origin" });
      await stream.expect("ready");
      await stream.cancel();
    }
  });

  it("starts with ready naming its own window, then hears its user, its window and broadcast", async () => {
    const stream = await connect("", "user-a");
    const ready = await stream.expect<LiveReady>("ready");
    expect(ready.window).toMatch(/^window:[0-9a-f-]{36}$/);
    await t.uploads.publish(userTopic("user-b"), "note", { n: 0 }); // someone else's: not heard
    await t.uploads.publish(userTopic("user-a"), "note", { n: 1 });
    await t.uploads.publish(ready.window, "note", { n: 2 }, { version: 7 });
    await t.uploads.publish("broadcast", "note", { n: 3 });
    expect(await stream.expect<LiveEvent>("note")).toEqual({ topic: "user:user-a", event: "note", data: { n: 1 }, version: 0 });
    expect(await stream.expect<LiveEvent>("note")).toEqual({ topic: ready.window, event: "note", data: { n: 2 }, version: 7 });
    expect(await stream.expect<LiveEvent>("note")).toMatchObject({ topic: "broadcast", data: { n: 3 } });
    await stream.cancel();
  });

  it("sends heartbeat comments on an idle stream", async () => {
    const stream = await connect("", "user-hb");
    await stream.expect("ready");
    expect(await stream.next(3000)).toMatchObject({ comment: "heartbeat" });
    await stream.cancel();
  });

  it("hears an object topic only with its token, and sends its snapshot first, again on reconnect", async () => {
    snapshots.set("alice/f1", { event: "processing", data: { state: "running" }, version: 3 });
    const token = t.uploads.topicToken("doc:f1", "alice");
    const stream = await connect(tokens(token));
    await stream.expect("ready");
    expect(await stream.expect<LiveEvent>("processing")).toEqual({ topic: "doc:f1", event: "processing", data: { state: "running" }, version: 3 });
    await t.uploads.publish("doc:f2", "processing", { other: true }); // no token for it
    await t.uploads.publish("doc:f1", "processing", { state: "passed" }, { version: 4 });
    expect(await stream.expect<LiveEvent>("processing")).toMatchObject({ topic: "doc:f1", version: 4 });
    await stream.cancel();

    snapshots.set("alice/f1", { event: "processing", data: { state: "passed" }, version: 4 });
    const again = await connect(tokens(token), "alice", { "last-event-id": "abc-1" });
    await again.expect("ready");
    expect(await again.expect<LiveEvent>("processing")).toMatchObject({ data: { state: "passed" }, version: 4 });
    await again.cancel();
  });

  it("goes on without the snapshot of a provider that throws or hangs, and says so in the log", async () => {
    snapshots.set("alice/fine", { event: "processing", data: "fine", version: 1 });
    const list = ["doc:throws", "doc:hangs", "doc:fine"].map((topic) => t.uploads.topicToken(topic, "alice"));
    const stream = await connect(tokens(...list));
    await stream.expect("ready");
    expect(await stream.expect<LiveEvent>("processing")).toMatchObject({ topic: "doc:fine", data: "fine" });
    await t.uploads.publish("doc:hangs", "processing", "live");
    expect(await stream.expect<LiveEvent>("processing")).toMatchObject({ topic: "doc:hangs", data: "live" });
    expect(logged).toEqual(expect.arrayContaining(["the snapshot of doc:throws failed", "the snapshot of doc:hangs failed"]));
    await stream.cancel();
  });

  it("refuses bad topic tokens one by one with topic-refused and keeps the rest of the stream", async () => {
    snapshots.set("alice/good", { event: "processing", data: "ok", version: 1 });
    const good = t.uploads.topicToken("doc:good", "alice");
    const bobs = t.uploads.topicToken("upload:bobs", "bob");
    const mac = t.uploads.topicToken("upload:x", "alice").split(".")[1];
    const forged = Buffer.from(JSON.stringify({ p: "topic", s: "alice", t: "upload:other", x: clock + 60_000 })).toString("base64url");
    const tampered = `${forged}.${mac}`;
    const expired = t.uploads.live.topicToken("upload:old", "alice", 1);
    clock += 2000;
    const otherPurpose = signToken({ purpose: "upload", key: "k", size: 1, contentType: "text/plain", expiresAt: clock + 60_000, fieldId: "f" } as never, TEST_SECRET);
    try {
      const stream = await connect(tokens(bobs, tampered, expired, otherPurpose, good, "garbage"));
      await stream.expect("ready");
      const refused: LiveTopicRefused[] = [];
      for (let i = 0; i < 4; i++) refused.push(await stream.expect<LiveTopicRefused>("topic-refused"));
      expect(refused).toEqual([
        { topic: "upload:bobs", code: "forbidden_topic", message: expect.stringContaining("someone else") },
        { topic: "upload:other", code: "invalid_token", message: expect.stringContaining("signature") },
        { topic: "upload:old", code: "expired_token", message: expect.stringContaining("expired") },
        { code: "invalid_token", message: expect.stringContaining("not a topic token") },
      ]);
      // The fifth token is good; the sixth is past maxTopicsPerStream (5 here).
      expect(await stream.expect<LiveTopicRefused>("topic-refused")).toMatchObject({ code: "too_many_topics" });
      expect(await stream.expect<LiveEvent>("processing")).toMatchObject({ topic: "doc:good" });
      await t.uploads.publish("upload:bobs", "processing", "no");
      await t.uploads.publish("upload:other", "processing", "no");
      await t.uploads.publish(userTopic("alice"), "still-here", "yes");
      expect(await stream.expect<LiveEvent>("still-here")).toMatchObject({ data: "yes" });
      await stream.cancel();
    } finally {
      clock -= 2000;
    }
  });

  it("keeps at most maxStreamsPerPrincipal streams: the oldest is told and closed", async () => {
    const first = await connect("", "carol");
    await first.expect("ready");
    const others = [await connect("", "carol"), await connect("", "carol")];
    for (const other of others) await other.expect("ready");
    const dave = await connect("", "dave"); // another principal's streams do not count
    await dave.expect("ready");
    expect(t.uploads.live).toBeDefined();
    const fourth = await connect("", "carol");
    await fourth.expect("ready");
    expect(await first.expect<LiveStreamClosed>("stream-closed")).toMatchObject({ code: "too_many_streams" });
    expect(await first.ended()).toBe(true);
    await t.uploads.publish(userTopic("carol"), "note", 1);
    for (const stream of [...others, fourth]) expect(await stream.expect<LiveEvent>("note")).toMatchObject({ data: 1 });
    for (const stream of [...others, fourth, dave]) await stream.cancel();
  });
});

describe("streams that must end", () => {
  it("frees at once the stream of a client that stops reading, once 256 events wait for it", async () => {
    const before = t.uploads.live.stats().streams;
    const response = await t.request("/events", { as: "sleepy" }); // its body is never read
    expect(t.uploads.live.stats().streams).toBe(before + 1);
    for (let i = 0; i < 260; i++) await t.uploads.publish(userTopic("sleepy"), "n", i);
    const deadline = Date.now() + 5000;
    while (t.uploads.live.stats().streams > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(t.uploads.live.stats().streams).toBe(before);
    await response.body?.cancel();
  });

  it("close() tells every open stream and ends it", async () => {
    const other = await createTestUploads({});
    const response = await other.request("/events");
    const stream = new SseReader(response.body!);
    await stream.expect("ready");
    await other.uploads.close();
    expect(await stream.expect<LiveStreamClosed>("stream-closed")).toMatchObject({ code: "shutting_down" });
    expect(await stream.ended()).toBe(true);
    expect(other.uploads.live.stats()).toEqual({ streams: 0, listeners: 0, topics: 0 });
    await other.close();
  });
});

describe("settings", () => {
  it("refuses live options that cannot work, at start-up, naming the option", async () => {
    const make = (live: Record<string, unknown>) => () =>
      createAsyncUploads({ db: t.db, secret: TEST_SECRET, storage: t.storage, getPrincipal: () => null, live });
    expect(make({ heartbeatSeconds: 0 })).toThrow(/live\.heartbeatSeconds must be a positive number/);
    expect(make({ maxStreamsPerPrincipal: Number.NaN })).toThrow(/live\.maxStreamsPerPrincipal/);
    expect(make({ maxStreams: -1 })).toThrow(/live\.maxStreams must/);
    expect(make({ channel: "Has Spaces" })).toThrow(/live channel "Has Spaces" must be lower-case/);
    expect(make({ topicTokenLifetime: 30 })).not.toThrow();
  });
});

describe("publish", () => {
  it("refuses what it cannot deliver, with a clear error", async () => {
    await expect(t.uploads.publish("nope", "x", 1)).rejects.toThrow(/is not a topic/);
    await expect(t.uploads.publish("upload:1", "ready", 1)).rejects.toThrow(/not an event name/);
    await expect(t.uploads.publish("upload:1", "Bad Name", 1)).rejects.toThrow(/not an event name/);
    await expect(t.uploads.publish("upload:1", "x", { big: 1n })).rejects.toThrow(/is not JSON/);
    await expect(t.uploads.publish("upload:1", "x", () => 1)).rejects.toThrow(/is not JSON/);
    await expect(t.uploads.publish("upload:1", "x", "y".repeat(8000))).rejects.toThrow(/at most 7999/);
    await expect(t.uploads.publish("upload:1", "x", 1, { version: -1 })).rejects.toThrow(/version/);
    expect(() => t.uploads.topicToken("not a topic", "alice")).toThrow(/is not a topic/);
  });
});
