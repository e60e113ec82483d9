import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { AsyncUploads } from "../../../server/create-async-uploads";
import type { ProcessingContext } from "../../../server/processing/types";
import { createProcessingWorld, DATABASE_KINDS, eventsOf, stateOf, waitForState, type ProcessingWorld } from "./harness";

const text = (content: string) => new TextEncoder().encode(content);

describe.each(DATABASE_KINDS)("processing across instances on %s", (kind) => {
  let world: ProcessingWorld;
  /** Which instance ran each file's step, once per run. */
  const runs = new Map<string, string[]>();
  const register = (name: string) => (uploads: AsyncUploads) => {
    uploads.registry.register("docs.scanned", {
      maxSize: 1024 * 1024,
      processing: [
        {
          name: "scan",
          run: async (context: ProcessingContext) => {
            runs.set(context.fileId, [...(runs.get(context.fileId) ?? []), name]);
            await new Promise((resolve) => setTimeout(resolve, 50));
          },
        },
      ],
    });
    uploads.registry.register("docs.plain", { maxSize: 1024 * 1024 });
  };

  beforeAll(async () => {
    world = await createProcessingWorld(kind);
  }, 60_000);
  afterAll(() => world?.close(), 60_000);

  const bossSchemaExists = async () => {
    const result = await world.db.execute(sql`select 1 from information_schema.schemata where schema_name = ${world.bossSchema}`);
    const rows = Array.isArray(result) ? result : (result as { rows: unknown[] }).rows;
    return rows.length > 0;
  };

  it("without fields with steps, start() leaves pg-boss alone and upload-url answers as before", async () => {
    const app = await world.instance({ register: (uploads) => uploads.registry.register("docs.plain", { maxSize: 1024 }) });
    expect(await bossSchemaExists()).toBe(false);
    const target = await app.upload("docs.plain", "a.txt", text("a"));
    expect(target).not.toHaveProperty("processing");
    expect((await app.process(target.key)).status).toBe(404);
  });

  it("answers 503 processing_unavailable, and logs why, when start() was not called", async () => {
    const logged: string[] = [];
    const app = await world.instance({ start: false, register: register("unstarted"), log: (message) => logged.push(message) });
    const target = await app.upload("docs.scanned", "a.txt", text("a"));
    const response = await app.process(target.key);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: "processing_unavailable" } });
    expect(logged).toContainEqual(expect.stringContaining("uploads.start()"));
    expect(await stateOf(world.db, target.processing!.fileId)).toMatchObject({ state: null, version: 0 });
  });

  it("a web-only instance queues; two worker instances run each step exactly once; events arrive after their commit", async () => {
    const web = await world.instance({ register: register("web"), processing: { worker: false } });
    const files = await Promise.all(Array.from({ length: 8 }, (_, index) => web.upload("docs.scanned", `file-${index}.txt`, text(`file ${index}`))));
    for (const file of files) expect((await web.process(file.key)).status).toBe(202);
    // Nobody works yet: the web-only instance has no worker.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const file of files) expect((await stateOf(world.db, file.processing!.fileId))?.state).toBe("queued");

    await Promise.all([
      world.instance({ register: register("worker-1"), processing: { concurrency: 2 } }),
      world.instance({ register: register("worker-2"), processing: { concurrency: 2 } }),
    ]);
    for (const file of files) await waitForState(world.db, file.processing!.fileId, ["passed"], 60_000);
    for (const file of files) {
      expect(runs.get(file.processing!.fileId), file.key).toHaveLength(1);
      await expect.poll(() => eventsOf(world, file.processing!.fileId).map((event) => event.state)).toEqual(["queued", "running", "running", "passed"]);
    }
    // Only the worker instances ran steps (which of them took how many is pg-boss's business).
    const workers = new Set(files.flatMap((file) => runs.get(file.processing!.fileId) ?? []));
    expect([...workers].every((name) => name === "worker-1" || name === "worker-2")).toBe(true);
    // Every event was delivered once its change was in the database (published in the same transaction).
    for (const arrival of await Promise.all(world.arrivals)) {
      expect(arrival.rowVersion).toBeGreaterThanOrEqual(arrival.eventVersion);
    }
  }, 120_000);

  it("a job for a step this instance does not have (a rolling deploy changed the steps) fails the file; asking again runs today's steps", async () => {
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const ran: string[] = [];
    const step = (name: string, wait?: Promise<void>) => ({
      name,
      run: async () => {
        ran.push(name);
        await wait;
      },
    });
    // A world of its own: the workers of the tests above do not know this field, and would fail its files.
    const deploy = await createProcessingWorld(kind);
    onTestFinished(() => deploy.close());
    const old = await deploy.instance({
      register: (uploads) => uploads.registry.register("docs.deployed", { maxSize: 1024, processing: [step("scan-a", gate), step("scan-b")] }),
    });
    const target = await old.upload("docs.deployed", "a.txt", text("a"));
    const fileId = target.processing!.fileId;
    await old.process(target.key);
    await expect.poll(() => ran, { timeout: 15_000 }).toEqual(["scan-a"]);
    // The old instance goes away: it finishes scan-a (sending scan-b's job) and stops before running it.
    const closing = old.uploads.close();
    openGate();
    await closing;
    expect(await stateOf(deploy.db, fileId)).toMatchObject({ state: "running", step: "scan-b" });

    const logged: string[] = [];
    const current = await deploy.instance({
      log: (message) => logged.push(message),
      register: (uploads) => uploads.registry.register("docs.deployed", { maxSize: 1024, processing: [step("scan-x")] }),
    });
    expect(await waitForState(deploy.db, fileId, ["passed", "rejected", "failed"])).toMatchObject({ state: "failed", step: "scan-b" });
    expect(logged).toContainEqual(expect.stringContaining('has no processing step "scan-b"'));
    expect(ran).toEqual(["scan-a"]);

    expect((await current.process(target.key)).status).toBe(202);
    expect(await waitForState(deploy.db, fileId, ["passed", "rejected", "failed"])).toMatchObject({ state: "passed", step: "scan-x" });
    expect(ran).toEqual(["scan-a", "scan-x"]);
  }, 120_000);
});
