import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExportQueuedResponse, ExportSummary } from "../../../shared/exports";
import type { LiveEvent } from "../../../shared/live";
import { createTestDatabase } from "../../helpers/db";
import { killAndWait } from "../../helpers/kill-and-wait";

const SERVER = fileURLToPath(new URL("./fixtures/instance-server.ts", import.meta.url));
const SECRET = "three-instances-secret-three-instances-0123456789";
const PRINCIPAL = "exporter-of-three-instances";
const COOKIE = `who=${PRINCIPAL}`;

interface Instance {
  name: string;
  url: string;
  child: ChildProcess;
  lines(prefix: string): string[];
}

function startInstance(name: string, env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, ["--import", "tsx", SERVER], { env: { ...process.env, ...env, INSTANCE_NAME: name }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const lines = (prefix: string) => stdout.split("\n").filter((line) => line.startsWith(prefix)).map((line) => line.slice(prefix.length));
  child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-8000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in time:\n${stdout}${stderr}`)), 60_000);
    child.once("exit", (code, signal) => reject(new Error(`${name} exited (${code ?? signal}) before listening:\n${stdout}${stderr}`)));
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const url = lines("listening ")[0];
      if (url === undefined) return;
      clearTimeout(timer);
      resolve({ name, url, child, lines });
    });
  });
}

/** A GET /events stream read as the browser's EventSource would: every `export` event's data, in order. */
function followExports(instance: Instance): { events: ExportSummary[]; close(): void; waitFor(test: (event: ExportSummary) => boolean, what: string): Promise<ExportSummary> } {
  const controller = new AbortController();
  const events: ExportSummary[] = [];
  const waiters = new Set<() => void>();
  void (async () => {
    const response = await fetch(`${instance.url}/async-uploads/events`, { headers: { cookie: COOKIE, accept: "text/event-stream" }, signal: controller.signal });
    if (response.status !== 200) throw new Error(`events answered ${response.status}`);
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: ?(.*)$/m.exec(block)?.[1];
        const data = block.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.replace(/^data: ?/, "")).join("\n");
        // LiveEvent (shared/live.ts): { topic, data, … }; the user topic and the export's own both carry it.
        if (event === "export" && data) events.push((JSON.parse(data) as LiveEvent<ExportSummary>).data);
        for (const wake of waiters) wake();
      }
    }
  })().catch(() => {});
  return {
    events,
    close: () => controller.abort(),
    async waitFor(test, what) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const found = events.find(test);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no ${what} on ${instance.name}'s stream; heard ${JSON.stringify(events.map((e) => [e.status, e.percentage]))}`);
        await new Promise<void>((resolve) => {
          const wake = () => (waiters.delete(wake), resolve());
          waiters.add(wake);
          setTimeout(wake, 200);
        });
      }
    },
  };
}

async function waitForLine(instance: Instance, prefix: string, line: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!instance.lines(prefix).includes(line)) {
    if (Date.now() > deadline) throw new Error(`${instance.name} never printed "${prefix}${line}"`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Issue 15's done-when: three server processes on one PostgreSQL schema and one filesystem storage
 * (test/e2e/live/fixtures/instance-server.ts, as issue 14's three-instance test). An export is asked
 * for on the first, built by the worker of the second (the only one with WORKER=true) and followed live
 * on the third's GET /events; a cancel sent to the third reaches the writer's signal on the second.
 */
describe("exports across three instances on one PostgreSQL and one filesystem storage", () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let first: Instance, second: Instance, third: Instance;
  const bossSchema = `pgboss_three_exp_${Math.random().toString(16).slice(2, 10)}`;
  const dirs: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    if (!database.url || !database.schema) throw new Error("the three-instance test needs a real PostgreSQL: set DATABASE_URL");
    const [root, gateDir] = await Promise.all([mkdtemp(join(tmpdir(), "three-exp-root-")), mkdtemp(join(tmpdir(), "three-exp-gates-"))]);
    dirs.push(root, gateDir);
    const env = { DATABASE_URL: database.url, DATABASE_SCHEMA: database.schema, BOSS_SCHEMA: bossSchema, SECRET, GATE_DIR: gateDir, STORAGE: JSON.stringify({ root }) };
    // The first migrates pg-boss's schema alone; the others then find it made.
    first = await startInstance("instance-1", { ...env, WORKER: "false" });
    [second, third] = await Promise.all([startInstance("instance-2", { ...env, WORKER: "true" }), startInstance("instance-3", { ...env, WORKER: "false" })]);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([first, second, third].filter(Boolean).map((instance) => killAndWait(instance.child, 15_000)));
    if (database?.url) {
      const admin = postgres(database.url, { onnotice: () => {}, max: 1 });
      await admin.unsafe(`drop schema if exists "${bossSchema}" cascade`);
      await admin.end({ timeout: 5 });
    }
    await database?.close();
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }, 60_000);

  const post = (instance: Instance, path: string, body?: unknown) =>
    fetch(`${instance.url}/async-uploads${path}`, {
      method: "POST",
      headers: { cookie: COOKIE, origin: instance.url, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it("started on the first, built on the second, followed live on the third, which cancels it: the second's writer sees the abort", async () => {
    const live = followExports(third);
    try {
      const started = await post(first, "/exports", { exportId: "live.rows", criteria: { rows: 1000 } });
      expect(started.status).toBe(202);
      const { export: queued } = (await started.json()) as ExportQueuedResponse;
      expect(queued.status).toBe("queued");

      // Progress made by the second's worker reaches the third's stream.
      await live.waitFor((event) => event.id === queued.id && event.status === "running" && (event.percentage ?? 0) > 0, "running export with progress");
      await waitForLine(second, "export-write ", "1000 on instance-2");
      expect(first.lines("export-write ")).toEqual([]);
      expect(third.lines("export-write ")).toEqual([]);

      const cancelled = await post(third, `/exports/${queued.id}/cancel`);
      expect(cancelled.status).toBe(202);
      await waitForLine(second, "export-aborted ", "1000 on instance-2");
      await live.waitFor((event) => event.id === queued.id && event.status === "cancelled", "cancelled export");
      const mine = (await (await fetch(`${first.url}/async-uploads/exports/${queued.id}`, { headers: { cookie: COOKIE } })).json()) as { export?: ExportSummary } & ExportSummary;
      expect((mine.export ?? mine).status).toBe("cancelled");
      // Versions only rise on the stream (the centre orders by them).
      const versions = live.events.filter((event) => event.id === queued.id).map((event) => event.version);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
    } finally {
      live.close();
    }
  }, 120_000);

  it("a short export finishes on the second and its file is served through the third and the first", async () => {
    const live = followExports(third);
    try {
      const started = await post(first, "/exports", { exportId: "live.rows", criteria: { rows: 30 } });
      expect(started.status).toBe(202);
      const { export: queued } = (await started.json()) as ExportQueuedResponse;
      const done = await live.waitFor((event) => event.id === queued.id && event.status === "succeeded", "succeeded export");
      expect(done.percentage).toBe(100);
      await waitForLine(second, "export-write ", "30 on instance-2");
      const redirect = await fetch(`${third.url}/async-uploads/exports/${queued.id}/file`, { headers: { cookie: COOKIE }, redirect: "manual" });
      expect(redirect.status).toBe(302);
      const location = new URL(redirect.headers.get("location")!, third.url);
      // The signed filesystem link works on any instance (same secret, same storage), with Range.
      const file = await fetch(`${first.url}${location.pathname}`, { headers: { range: "bytes=0-6" } });
      expect(file.status).toBe(206);
      expect(await file.text()).toBe("n,name\n");
    } finally {
      live.close();
    }
  }, 120_000);
});
