import { and, count, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExportQueuedResponse } from "../../../shared/exports";
import { asyncExport } from "../../../server/db/export-schema";
import { newWriterLog, registerTestExports, type Criteria } from "./definitions";
import { createExportWorld, DATABASE_KINDS, filesMentioning, rowOf, waitForStatus, type ExportInstance, type ExportWorld } from "./harness";

/**
 * Several `createAsyncUploads` on one database: a web-only instance (`processing.worker: false`) that
 * takes requests, and a worker instance that builds them. The cross-machine version (real processes,
 * a killed worker) is the multi-instance test's.
 */
describe.each(DATABASE_KINDS)("exports across instances on %s", (kind) => {
  let world: ExportWorld;
  let web: ExportInstance;
  const log = newWriterLog();
  const BACKLOG = 300;

  beforeAll(async () => {
    world = await createExportWorld(kind);
    web = await world.instance({ processing: { worker: false }, register: (uploads) => registerTestExports(uploads, log, { maxConcurrentPerPrincipal: 1000 }) });
  }, 120_000);
  afterAll(() => world?.close(), 60_000);

  it("drains a backlog queued while no worker ran, once one starts (pg-boss's defaults would take a poll per job)", async () => {
    const ids: string[] = [];
    for (let i = 0; i < BACKLOG; i++) {
      const result = await web.uploads.exports.request({ exportId: "rows.csv", criteria: { tag: `backlog-${i}`, rows: 11, mode: "ok" } satisfies Criteria, principal: `p${i % 10}` });
      if (!("queued" in result)) throw new Error("expected a queued export");
      ids.push(result.queued.id);
    }
    const succeeded = async () =>
      (await world.db.select({ n: count() }).from(asyncExport).where(and(eq(asyncExport.status, "succeeded"), eq(asyncExport.exportId, "rows.csv"))))[0]!.n;
    expect(await succeeded()).toBe(0); // nobody builds them yet
    const started = Date.now();
    await world.instance({ register: (uploads) => registerTestExports(uploads, log, { maxConcurrentPerPrincipal: 1000 }) });
    await expect.poll(succeeded, { timeout: 120_000, interval: 200 }).toBe(BACKLOG);
    // Informative only (timed goals live in bench/): how fast this machine drained it.
    console.info(`[exports] ${kind}: ${BACKLOG} queued exports drained in ${Date.now() - started} ms after the worker started`);
    expect((await rowOf(world.db, ids[0]!))?.size).toBeGreaterThan(0);
  }, 180_000);

  it("builds on the worker instance an export requested on the web one, and a cancel sent to the web one aborts the writer there", async () => {
    const response = await web.requestExport("rows.csv", { tag: "remote-cancel", rows: 0, mode: "wait" } satisfies Criteria);
    expect(response.status).toBe(202);
    const { export: queued } = (await response.json()) as ExportQueuedResponse;
    const running = await waitForStatus(world.db, queued.id, ["running"]);
    expect(running.key).toMatch(new RegExp(`^async-exports/${queued.id}/`));
    const cancelled = await web.request(`/exports/${queued.id}/cancel`, { method: "POST" });
    expect(cancelled.status).toBe(202);
    await expect.poll(() => log.aborted.has("remote-cancel"), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => filesMentioning(world.root, queued.id)).toEqual([]);
    expect(await rowOf(world.db, queued.id)).toMatchObject({ status: "cancelled" });
  });
});
