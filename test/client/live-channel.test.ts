import { serve, type ServerType } from "@hono/node-server";
import { build } from "esbuild";
import { Hono } from "hono";
import { streamSSE, type SSEStreamingApi } from "hono/streaming";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, watchPageErrors } from "../helpers/browser";

/**
 * client/live/live-channel.ts in Chromium (its real EventSource) against a small real SSE server
 * (hono/streaming's streamSSE) that speaks the wire of shared/live.ts: `ready`, a snapshot per topic
 * token, `topic-refused` for tokens starting with "bad", live events pushed by the test. A token
 * `ok:<topic>` opens `<topic>`.
 */
interface Connection {
  tokens: string[];
  stream: SSEStreamingApi;
  closed: boolean;
  lastEventId?: string;
}

const channelSource = fileURLToPath(new URL("../../client/live/live-channel.ts", import.meta.url));

describe("live channel (shared EventSource) in Chromium", () => {
  let browser: Browser;
  let server: ServerType;
  let url: string;
  let bundle: string;
  const connections: Connection[] = [];
  const pages: Page[] = [];
  let eventId = 0;
  const crowded: number[] = [];

  const open = () => connections.filter((connection) => !connection.closed);
  const push = async (topic: string, event: string, data: unknown, version = 1) => {
    for (const connection of open()) {
      if (connection.tokens.includes(`ok:${topic}`)) {
        await connection.stream.writeSSE({ event, id: String(++eventId), data: JSON.stringify({ topic, event, data, version }) });
      }
    }
  };

  beforeAll(async () => {
    const built = await build({
      stdin: { contents: `import * as live from ${JSON.stringify(channelSource)}; window.live = live;`, resolveDir: process.cwd(), loader: "ts" },
      bundle: true,
      format: "esm",
      write: false,
      logLevel: "warning",
    });
    bundle = built.outputFiles[0]!.text;
    const app = new Hono();
    app.get("/page", (c) => c.html(`<!doctype html><title>live</title><script type="module" src="/live.js"></script>`));
    app.get("/live.js", (c) => c.body(bundle, 200, { "Content-Type": "text/javascript" }));
    app.get("/unauthorized/events", (c) => c.json({ error: { code: "unauthenticated", message: "Sign in first." } }, 401));
    // Closes every stream at once as the oldest of too many (LIVE_CLOSED_EVENT), as the server does past its bound.
    app.get("/crowded/events", (c) =>
      streamSSE(c, async (stream) => {
        crowded.push(Date.now());
        await stream.writeSSE({ event: "ready", data: JSON.stringify({ window: "window:crowded" }) });
        await stream.writeSSE({ event: "stream-closed", data: JSON.stringify({ code: "too_many_streams", message: "Too many live streams." }) });
      }),
    );
    app.get("/events", (c) =>
      streamSSE(c, async (stream) => {
        const tokens = c.req.queries("topic") ?? [];
        const connection: Connection = { tokens, stream, closed: false, lastEventId: c.req.header("Last-Event-ID") };
        connections.push(connection);
        await stream.writeSSE({ event: "ready", id: String(++eventId), data: JSON.stringify({ window: `window:${connections.length}` }) });
        for (const token of tokens) {
          if (token.startsWith("bad")) {
            const topic = token.slice(4);
            await stream.writeSSE({ event: "topic-refused", data: JSON.stringify({ ...(topic ? { topic } : {}), code: "invalid_token", message: "no" }) });
          } else {
            const topic = token.slice(3);
            await stream.writeSSE({ event: "processing", id: String(++eventId), data: JSON.stringify({ topic, event: "processing", data: { snapshot: true }, version: 1 }) });
          }
        }
        await new Promise<void>((resolve) => stream.onAbort(resolve));
        connection.closed = true;
      }),
    );
    [server, browser] = await Promise.all([
      new Promise<ServerType>((resolve) => {
        const started = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(started));
      }),
      launchBrowser(),
    ]);
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    url = `http://127.0.0.1:${address.port}`;
  });

  afterEach(async () => {
    await Promise.all(pages.splice(0).map((page) => page.context().close()));
  });

  afterAll(async () => {
    await browser?.close();
    if ("closeAllConnections" in server) server.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  /** A page with the channel as `window.live`; `window.heard[name]` collects what subscriber `name` hears. */
  async function openPage(): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    pages.push(page);
    const errors = watchPageErrors(page);
    await page.goto(`${url}/page`);
    await page.waitForFunction(() => "live" in window);
    await page.evaluate(() => {
      const w = window as unknown as { heard: Record<string, unknown[]>; stops: Record<string, () => void> };
      w.heard = {};
      w.stops = {};
    });
    return { page, errors };
  }

  /** Subscribes as `name`; with `throws` its handler records the event and then throws. */
  function subscribe(page: Page, name: string, token: string, topic: string, base = "/events", throws = false): Promise<void> {
    return page.evaluate(
      ({ name, token, topic, base, throws }) => {
        type Live = typeof import("../../client/live/live-channel");
        const w = window as unknown as { live: Live; heard: Record<string, unknown[]>; stops: Record<string, () => void> };
        w.heard[name] = [];
        w.stops[name] = w.live.subscribe(
          base,
          token,
          (event) => {
            w.heard[name]!.push(event);
            if (throws) throw new Error(`${name} could not handle it`);
          },
          { topic, events: ["processing"] },
        );
      },
      { name, token, topic, base, throws },
    );
  }

  const heard = (page: Page, name: string) =>
    page.evaluate((name) => (window as unknown as { heard: Record<string, Array<{ event: string; data: unknown }>> }).heard[name]!, name);
  const unsubscribe = (page: Page, name: string) =>
    page.evaluate((name) => (window as unknown as { stops: Record<string, () => void> }).stops[name]!(), name);
  // A deadline, not a count of tries: in CI two test files share 2 cores with Chromium, and a round trip
  // through the page took long enough there that 200 tries ran out (a refused topic not heard in ~9 s).
  const until = async (check: () => boolean | Promise<boolean>) => {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !(await check())) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(await check()).toBe(true);
  };

  it("shares one EventSource among subscribers, gives each only its topic, and reconnects with a changed token set", async () => {
    const { page, errors } = await openPage();
    const before = connections.length;
    await subscribe(page, "a", "ok:upload:a", "upload:a");
    await subscribe(page, "b", "ok:upload:b", "upload:b");
    await until(async () => (await heard(page, "a")).length === 1 && (await heard(page, "b")).length === 1);
    // Both subscriptions within the debounce: one connection carrying both tokens.
    expect(connections.slice(before).map((connection) => connection.tokens.sort())).toEqual([["ok:upload:a", "ok:upload:b"]]);
    expect(await heard(page, "a")).toEqual([{ topic: "upload:a", event: "processing", data: { snapshot: true }, version: 1 }]);

    await push("upload:b", "processing", { state: "running" }, 2);
    await until(async () => (await heard(page, "b")).length === 2);
    expect((await heard(page, "b"))[1]).toMatchObject({ topic: "upload:b", data: { state: "running" }, version: 2 });
    expect(await heard(page, "a")).toHaveLength(1);

    // A third token: the old stream is closed and a new one opened with all three.
    await subscribe(page, "c", "ok:upload:c", "upload:c");
    await until(() => open().length === 1 && open()[0]!.tokens.length === 3);
    expect(connections.slice(before).filter((connection) => connection.closed)).toHaveLength(1);
    expect(await page.evaluate(() => (window as unknown as { live: { openStreams(): string[] } }).live.openStreams())).toEqual([
      expect.stringMatching(/\/events\?topic=ok%3Aupload%3Aa&topic=ok%3Aupload%3Ab&topic=ok%3Aupload%3Ac$/),
    ]);
    // The snapshot after the reconnect reaches a and b again (the subscriber decides by version).
    await until(async () => (await heard(page, "a")).length === 2);

    // Unsubscribing reconnects without the token; the last one closes the stream at once.
    await unsubscribe(page, "a");
    await until(() => open().length === 1 && open()[0]!.tokens.length === 2);
    await unsubscribe(page, "b");
    await unsubscribe(page, "c");
    await until(() => open().length === 0);
    expect(await page.evaluate(() => (window as unknown as { live: { openStreams(): string[] } }).live.openStreams())).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("tells a refused topic to its subscriber only, and a refusal naming no topic to everyone", async () => {
    const { page } = await openPage();
    await subscribe(page, "good", "ok:upload:g", "upload:g");
    await subscribe(page, "refused", "bad:upload:r", "upload:r");
    await until(async () => (await heard(page, "refused")).length === 1 && (await heard(page, "good")).length === 1);
    expect(await heard(page, "refused")).toEqual([
      { topic: "upload:r", event: "topic-refused", data: { topic: "upload:r", code: "invalid_token", message: "no" }, version: 0 },
    ]);
    expect((await heard(page, "good"))[0]).toMatchObject({ event: "processing" });

    await subscribe(page, "damaged", "bad:", "upload:d");
    await until(async () => (await heard(page, "damaged")).length >= 1);
    await until(async () => (await heard(page, "good")).some((event) => event.event === "topic-refused"));
    await page.evaluate(() => Object.values((window as unknown as { stops: Record<string, () => void> }).stops).forEach((stop) => stop()));
    await until(() => open().length === 0);
  });

  it("tells every subscriber when the browser gives up on the stream (401)", async () => {
    const { page } = await openPage();
    await subscribe(page, "a", "ok:upload:a", "upload:a", "/unauthorized/events");
    await until(async () => (await heard(page, "a")).length === 1);
    expect(await heard(page, "a")).toEqual([
      { topic: "upload:a", event: "topic-refused", data: { code: "stream_closed", message: "The server's event stream is not available." }, version: 0 },
    ]);
    await unsubscribe(page, "a");
  });

  it("keeps telling the other subscribers when one handler throws, and reports the error", async () => {
    const { page, errors } = await openPage();
    await subscribe(page, "thrower", "ok:upload:t", "upload:t", "/events", true);
    await subscribe(page, "calm", "ok:upload:t", "upload:t");
    await until(async () => (await heard(page, "calm")).length === 1);
    await push("upload:t", "processing", { state: "passed" }, 2);
    await until(async () => (await heard(page, "calm")).length === 2);
    expect(await heard(page, "thrower")).toHaveLength(2);
    expect(errors).toContain("uncaught: thrower could not handle it");
    await page.evaluate(() => Object.values((window as unknown as { stops: Record<string, () => void> }).stops).forEach((stop) => stop()));
    await until(() => open().length === 0);
  });

  it("gives a subscriber who joins an open stream's token the last event the others heard (no reconnection, so no snapshot)", async () => {
    const { page, errors } = await openPage();
    const before = connections.length;
    await subscribe(page, "first", "ok:upload:l", "upload:l");
    await until(async () => (await heard(page, "first")).length === 1);
    await push("upload:l", "processing", { state: "running" }, 2);
    await until(async () => (await heard(page, "first")).length === 2);
    await subscribe(page, "late", "ok:upload:l", "upload:l");
    await until(async () => (await heard(page, "late")).length === 1);
    expect(await heard(page, "late")).toEqual([{ topic: "upload:l", event: "processing", data: { state: "running" }, version: 2 }]);
    // The same token set: the stream was not reopened.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(connections.length - before).toBe(1);
    await push("upload:l", "processing", { state: "passed" }, 3);
    await until(async () => (await heard(page, "late")).length === 2 && (await heard(page, "first")).length === 3);
    await page.evaluate(() => Object.values((window as unknown as { stops: Record<string, () => void> }).stops).forEach((stop) => stop()));
    await until(() => open().length === 0);
    expect(errors).toEqual([]);
  });

  it("stays away for a while when the server closes the stream as one of too many, then comes back", async () => {
    const { page } = await openPage();
    const before = crowded.length;
    await subscribe(page, "a", "ok:upload:a", "upload:a", "/crowded/events");
    await until(async () => (await heard(page, "a")).length === 1);
    expect(await heard(page, "a")).toEqual([
      { topic: "upload:a", event: "topic-refused", data: { code: "stream_closed", message: "Too many live streams." }, version: 0 },
    ]);
    // EventSource alone would reconnect at once (and close another tab's stream): the channel waits first.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(crowded.length - before).toBe(1);
    await until(() => crowded.length - before === 2);
    expect(crowded.at(-1)! - crowded.at(-2)!).toBeGreaterThanOrEqual(1900);
    await unsubscribe(page, "a");
  });

  it("reconnects by itself after the connection drops (with Last-Event-ID) and hears the snapshot again", async () => {
    const { page } = await openPage();
    await subscribe(page, "a", "ok:upload:a", "upload:a");
    await until(async () => (await heard(page, "a")).length === 1 && open().length === 1);
    const first = open()[0]!;
    first.stream.abort();
    await until(() => open().length === 1 && open()[0] !== first);
    expect(open()[0]!.lastEventId).toMatch(/^\d+$/);
    await until(async () => (await heard(page, "a")).length === 2);
    await unsubscribe(page, "a");
    await until(() => open().length === 0);
  });
});
