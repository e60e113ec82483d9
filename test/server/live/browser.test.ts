import type { Socket } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LiveEvent } from "../../../shared/live";
import { launchBrowser, watchPageErrors } from "../../helpers/browser";
import { createTestUploads, type TestUploads } from "../../helpers/uploads";

// The wire as a real browser reads it: Chromium's EventSource gets `ready`, the snapshot and live
// events; after a network cut it reconnects by itself with `Last-Event-ID`, and the snapshot brings
// back the state it missed.
let t: TestUploads;
let server: ServerType;
let origin: string;
let browser: Browser;
const sockets = new Set<Socket>();
const lastEventIds: (string | undefined)[] = [];
let snapshot = { event: "processing", data: { state: "running" }, version: 1 };

beforeAll(async () => {
  t = await createTestUploads({
    getPrincipal: (c) => /(?:^|;\s*)who=([a-z]+)/.exec(c.req.header("cookie") ?? "")?.[1] ?? null,
    register: (uploads) => uploads.live.registerSnapshot("doc", async (id) => (id === "1" ? snapshot : null)),
  });
  const app = new Hono();
  app.use("/async-uploads/events", async (c, next) => {
    lastEventIds.push(c.req.header("last-event-id"));
    await next();
  });
  app.route("/async-uploads", t.uploads.routes);
  app.get("/", (c) => c.html("<!doctype html><title>live</title><p>live"));
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, (info) => {
      origin = `http://127.0.0.1:${info.port}`;
      resolve();
    });
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await t?.uploads.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await t?.close();
});

describe("Chromium's EventSource", () => {
  it("gets ready, the snapshot and live events, and after a cut reconnects with Last-Event-ID and catches up", async () => {
    const context = await browser.newContext();
    await context.addCookies([{ name: "who", value: "alice", url: origin }]);
    const page = await context.newPage();
    const errors = watchPageErrors(page);
    await page.goto(origin);
    const token = t.uploads.topicToken("doc:1", "alice");
    await page.evaluate((url) => {
      const seen: { type: string; data: string; id: string }[] = [];
      (window as unknown as { seen: typeof seen }).seen = seen;
      const source = new EventSource(url);
      for (const type of ["ready", "processing", "note"]) {
        source.addEventListener(type, (event) => seen.push({ type, data: (event as MessageEvent).data, id: (event as MessageEvent).lastEventId }));
      }
    }, `/async-uploads/events?topic=${encodeURIComponent(token)}`);
    const seen = () => page.evaluate(() => (window as unknown as { seen: { type: string; data: string; id: string }[] }).seen);
    const waitFor = async (count: number) => {
      await page.waitForFunction((n) => (window as unknown as { seen: unknown[] }).seen.length >= n, count, { timeout: 15_000 });
      return seen();
    };

    let events = await waitFor(2);
    expect(events.map((e) => e.type)).toEqual(["ready", "processing"]);
    expect(JSON.parse(events[1]!.data)).toEqual({ topic: "doc:1", event: "processing", data: { state: "running" }, version: 1 });
    await t.uploads.publish("doc:1", "processing", { state: "scanning" }, { version: 2 });
    events = await waitFor(3);
    expect(JSON.parse(events[2]!.data) as LiveEvent).toMatchObject({ data: { state: "scanning" }, version: 2 });
    const lastId = events[2]!.id;
    expect(lastId).not.toBe("");

    // A network cut; while the page is away the state moves on and its event is lost.
    for (const socket of sockets) socket.destroy();
    snapshot = { event: "processing", data: { state: "passed" }, version: 3 };
    await t.uploads.publish("doc:1", "processing", { state: "passed" }, { version: 3 });
    events = await waitFor(5);
    expect(events.slice(3).map((e) => e.type)).toEqual(["ready", "processing"]);
    expect(JSON.parse(events[4]!.data) as LiveEvent).toMatchObject({ data: { state: "passed" }, version: 3 });
    expect(lastEventIds).toEqual([undefined, lastId]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
