import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXPORT_FAILED_MESSAGE, type ExportListResponse, type ExportQueuedResponse, type ExportSummary } from "../../../shared/exports";
import { asyncExport } from "../../../server/db/export-schema";
import { expectedCsv, newWriterLog, registerTestExports, type Criteria } from "./definitions";
import { createExportWorld, DATABASE_KINDS, eventsOf, filesMentioning, jobsOf, rowOf, waitForStatus, type ExportInstance, type ExportWorld } from "./harness";

const criteria = (tag: string, rows: number, mode: Criteria["mode"] = "ok"): Criteria => ({ tag, rows, mode });

describe.each(DATABASE_KINDS)("exports on %s", (kind) => {
  let world: ExportWorld;
  let app: ExportInstance;
  const log = newWriterLog();
  const logged: string[] = [];

  beforeAll(async () => {
    world = await createExportWorld(kind);
    app = await world.instance({ log: (message, error) => { logged.push(message); if (process.env.EXPORT_DEBUG) console.log(message, error); }, register: (uploads) => registerTestExports(uploads, log) });
  }, 120_000);
  afterAll(() => world?.close(), 60_000);

  async function queue(tag: string, rows: number, mode: Criteria["mode"] = "ok", as = "alice"): Promise<ExportQueuedResponse> {
    const response = await app.requestExport("rows.csv", criteria(tag, rows, mode), as);
    expect(response.status, await response.clone().text()).toBe(202);
    return (await response.json()) as ExportQueuedResponse;
  }

  /** Follows `GET /exports/{id}/file` to the bytes (the filesystem backend's own download route). */
  async function download(id: string, as = "alice") {
    const redirect = await app.request(`/exports/${id}/file`, { as });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("cache-control")).toBe("private, no-store");
    const file = await app.request(redirect.headers.get("location")!, { as: null });
    return { redirect, file };
  }

  it("queues, runs with throttled progress events, succeeds; the file route redirects to the bytes as an attachment", async () => {
    const { export: queued, topicToken } = await queue("progress", 30, "slow");
    expect(queued).toMatchObject({ exportId: "rows.csv", filename: "rows-progress.csv", contentType: "text/csv", status: "queued", percentage: null, version: 1 });
    expect(topicToken).toEqual(expect.any(String));

    const done = await waitForStatus(world.db, queued.id, ["succeeded", "failed"]);
    expect(done).toMatchObject({ status: "succeeded", percentage: 100, size: expectedCsv(30).length });
    await expect.poll(() => eventsOf(world, queued.id).at(-1)?.status).toBe("succeeded");
    const events = eventsOf(world, queued.id);
    expect(events[0]).toMatchObject({ status: "queued", version: 1 });
    expect(events[1]).toMatchObject({ status: "running", percentage: null, version: 2 });
    // 30 rows 20 ms apart (~600 ms): progress is written a few times, never once per row.
    const progress = events.filter((event) => event.status === "running" && event.percentage !== null);
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.length).toBeLessThan(10);
    expect(events.map((event) => event.version)).toEqual(events.map((_, index) => index + 1));
    // The person's own topic hears the same events.
    expect(world.delivered.filter((message) => message.topic === "user:alice" && (message.data as ExportSummary).id === queued.id)).toHaveLength(events.length);

    const { redirect, file } = await download(queued.id);
    expect(redirect.headers.get("location")).toMatch(/^\/fs\/download\//);
    expect(file.status).toBe(200);
    expect(file.headers.get("content-disposition")).toMatch(/^attachment; filename="rows-progress\.csv"/);
    expect(await file.text()).toBe(expectedCsv(30));

    expect(log.ready.find((ready) => ready.export.id === queued.id)).toMatchObject({ principal: "alice", link: expect.stringMatching(/^\/async-uploads\/e\//) });
    expect(log.ready.find((ready) => ready.export.id === queued.id)?.generalLink).toBeUndefined();

    const list = (await (await app.request("/exports")).json()) as ExportListResponse;
    expect(list.exports.map((summary) => summary.id)).toContain(queued.id);
    const one = (await (await app.request(`/exports/${queued.id}`)).json()) as ExportSummary;
    expect(one).toMatchObject({ id: queued.id, status: "succeeded", percentage: 100, finishedAt: expect.any(String), expiresAt: expect.any(String) });
  });

  it("writes progress of a tight loop a few times, not once per call", async () => {
    const { export: queued } = await queue("tight", 0, "tight", "tina");
    await waitForStatus(world.db, queued.id, ["succeeded"]);
    await expect.poll(() => eventsOf(world, queued.id).at(-1)?.status).toBe("succeeded");
    const progress = eventsOf(world, queued.id).filter((event) => event.status === "running" && event.percentage !== null);
    // 120 000 calls over ~600 ms: a write at most every 250 ms.
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.length).toBeLessThanOrEqual(4);
    expect(progress.map((event) => event.percentage)).toEqual([...progress.map((event) => event.percentage)].sort((a, b) => a! - b!));
  });

  it("writes nothing when the app's transaction given to request() rolls back: no row, no job", async () => {
    let id = "";
    const rollback = new Error("the app's save failed");
    await expect(
      app.uploads.db.transaction(async (tx) => {
        const result = await app.uploads.exports.request({ exportId: "rows.csv", criteria: criteria("rolled-back", 20), principal: "rita", tx });
        if (!("queued" in result)) throw new Error("expected a queued export");
        id = result.queued.id;
        throw rollback;
      }),
    ).rejects.toBe(rollback);
    expect(id).not.toBe("");
    expect(await rowOf(world.db, id)).toBeUndefined();
    expect(await jobsOf(world, id)).toBe(0);
    expect(eventsOf(world, id)).toEqual([]);
  });

  it("serves a small export at once, streamed as an attachment, with no row and no job", async () => {
    const before = await world.db.select().from(asyncExport);
    const response = await app.requestExport("rows.csv", criteria("now", 5));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/csv");
    expect(response.headers.get("content-disposition")).toMatch(/^attachment; filename="rows-now\.csv"/);
    expect(response.headers.get("cache-control")).toBe("private, no-store");
    expect(await response.text()).toBe(expectedCsv(5));
    expect(await world.db.select().from(asyncExport)).toHaveLength(before.length);
  });

  it("answers an identical request while one is queued or running with that export, and sends no second job", async () => {
    const [first, second] = await Promise.all([queue("dedupe", 0, "wait", "dora"), queue("dedupe", 0, "wait", "dora")]);
    expect(second.export.id).toBe(first.export.id);
    await waitForStatus(world.db, first.export.id, ["running"]);
    const third = await queue("dedupe", 0, "wait", "dora");
    expect(third.export.id).toBe(first.export.id);
    // Same criteria written differently (keys in another order) are the same export.
    const reordered = await app.request("/exports", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ criteria: { mode: "wait", rows: 0, tag: "dedupe" }, exportId: "rows.csv" }),
      as: "dora",
    });
    expect(((await reordered.json()) as ExportQueuedResponse).export.id).toBe(first.export.id);
    expect(await jobsOf(world, first.export.id)).toBe(1);
    // Another principal asking the same gets an export of their own.
    const erin = await queue("dedupe", 0, "wait", "erin");
    expect(erin.export.id).not.toBe(first.export.id);
    for (const [id, as] of [[first.export.id, "dora"], [erin.export.id, "erin"]] as const) {
      expect((await app.request(`/exports/${id}/cancel`, { method: "POST", as })).status).toBe(202);
      await waitForStatus(world.db, id, ["cancelled"]);
    }
  });

  it("refuses before anything is written: 400 criteria, 404 unknown export, 403 canRequest, 401 nobody", async () => {
    const count = async () => (await world.db.select().from(asyncExport)).length;
    const before = await count();
    const bad = await app.requestExport("rows.csv", { rows: -1, tag: "bad" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: "invalid_criteria", message: "rows must be a whole number from 0 to 100000." } });
    const unknown = await app.requestExport("nope.csv", criteria("x", 1));
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("unknown_export");
    const forbidden = await app.requestExport("forbidden.csv", criteria("x", 20));
    expect(forbidden.status).toBe(403);
    const nobody = await app.request("/exports", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ exportId: "rows.csv", criteria: criteria("x", 20) }), as: null });
    expect(nobody.status).toBe(401);
    const malformed = await app.request("/exports", { method: "POST", headers: { "content-type": "application/json" }, body: "{", as: "alice" });
    expect(malformed.status).toBe(400);
    const extra = await app.request("/exports", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ exportId: "rows.csv", criteria: {}, path: "/etc/passwd" }) });
    expect(extra.status).toBe(400);
    expect(await count()).toBe(before);
  });

  it("cancels a running export: the writer's signal aborts, the object goes, and nothing more changes", async () => {
    const { export: queued } = await queue("cancel-me", 0, "wait", "carol");
    await waitForStatus(world.db, queued.id, ["running"]);
    const cancelled = await app.request(`/exports/${queued.id}/cancel`, { method: "POST", as: "carol" });
    expect(cancelled.status).toBe(202);
    expect(((await cancelled.json()) as ExportQueuedResponse).export.status).toBe("cancelled");
    await expect.poll(() => log.aborted.has("cancel-me"), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => filesMentioning(world.root, queued.id)).toEqual([]);
    const row = await rowOf(world.db, queued.id);
    expect(row).toMatchObject({ status: "cancelled" });
    // Cancelling again changes nothing.
    const again = await app.request(`/exports/${queued.id}/cancel`, { method: "POST", as: "carol" });
    expect(((await again.json()) as ExportQueuedResponse).export.version).toBe(row!.version);
  });

  // Retries wait for their backoff (1–2 s, then 2–4 s): more than the default 30 s on a busy machine.
  it("retries a writer that throws once, then succeeds", { timeout: 120_000 }, async () => {
    const { export: queued } = await queue("flaky", 3, "flaky", "frank");
    const done = await waitForStatus(world.db, queued.id, ["succeeded", "failed"], 60_000);
    expect(done.status).toBe("succeeded");
    expect(log.attempts.get("flaky")).toBe(2);
    const { file } = await download(queued.id, "frank");
    expect(await file.text()).toBe(expectedCsv(3));
  });

  // Retries wait for their backoff (1–2 s, then 2–4 s): more than the default 30 s on a busy machine.
  it("fails with a safe message once the retries are spent, leaves no object, and can be retried by the person", { timeout: 120_000 }, async () => {
    const { export: queued } = await queue("throws", 3, "throw", "gina");
    const failed = await waitForStatus(world.db, queued.id, ["failed", "succeeded"], 60_000);
    expect(failed).toMatchObject({ status: "failed", message: EXPORT_FAILED_MESSAGE, key: null });
    expect(log.attempts.get("throws")).toBe(2); // retryLimit 1
    expect(JSON.stringify(eventsOf(world, queued.id))).not.toContain("hunter2");
    expect(await filesMentioning(world.root, queued.id)).toEqual([]);
    expect(logged.some((message) => message.includes(queued.id))).toBe(true);
    const file = await app.request(`/exports/${queued.id}/file`, { as: "gina" });
    expect(file.status).toBe(409);

    const retried = await app.request(`/exports/${queued.id}/retry`, { method: "POST", as: "gina" });
    expect(retried.status).toBe(202);
    expect(((await retried.json()) as ExportQueuedResponse).export).toMatchObject({ status: "queued", message: null });
    expect((await rowOf(world.db, queued.id))?.attempt).toBe(2);
    await waitForStatus(world.db, queued.id, ["failed"], 60_000);
    expect(log.attempts.get("throws")).toBe(4);
    // Only failed or cancelled exports are retried.
    const succeeded = await queue("not-retryable", 11, "ok", "gina");
    await waitForStatus(world.db, succeeded.export.id, ["succeeded"]);
    const refused = await app.request(`/exports/${succeeded.export.id}/retry`, { method: "POST", as: "gina" });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("not_retryable");
  });

  // Retries wait for their backoff (1–2 s, then 2–4 s): more than the default 30 s on a busy machine.
  it("retries through a storage outage mid-file, then fails with nothing visible", { timeout: 120_000 }, async () => {
    world.faults.failWrites = true;
    try {
      const { export: queued } = await queue("outage", 0, "big", "hank");
      const failed = await waitForStatus(world.db, queued.id, ["failed", "succeeded"], 60_000);
      expect(failed).toMatchObject({ status: "failed", message: EXPORT_FAILED_MESSAGE });
      expect(log.attempts.get("outage")).toBe(2);
      expect(await filesMentioning(world.root, queued.id)).toEqual([]);
    } finally {
      world.faults.failWrites = false;
    }
  });

  it("bounds the queued and running exports of one principal (429), and frees a slot when one ends", async () => {
    const running = [await queue("bound-1", 0, "wait", "ivan"), await queue("bound-2", 0, "wait", "ivan"), await queue("bound-3", 0, "wait", "ivan")];
    const refused = await app.requestExport("rows.csv", criteria("bound-4", 0, "wait"), "ivan");
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("too_many_exports");
    // Someone else is not held back by ivan's.
    const other = await queue("bound-1", 20, "ok", "judy");
    await waitForStatus(world.db, other.export.id, ["succeeded"]);
    expect((await app.request(`/exports/${running[0]!.export.id}/cancel`, { method: "POST", as: "ivan" })).status).toBe(202);
    const fourth = await queue("bound-4", 20, "ok", "ivan");
    await waitForStatus(world.db, fourth.export.id, ["succeeded"]);
    for (const { export: summary } of running.slice(1)) await app.request(`/exports/${summary.id}/cancel`, { method: "POST", as: "ivan" });
  });

  it("answers 404 to another principal's id on every route and changes nothing; clear is by our id only", async () => {
    const { export: mine } = await queue("private", 12, "ok", "kate");
    const done = await waitForStatus(world.db, mine.id, ["succeeded"]);
    const routes: [string, RequestInit][] = [
      [`/exports/${mine.id}`, {}],
      [`/exports/${mine.id}/file`, {}],
      [`/exports/${mine.id}/cancel`, { method: "POST" }],
      [`/exports/${mine.id}/retry`, { method: "POST" }],
      [`/exports/${mine.id}`, { method: "DELETE" }],
    ];
    for (const [path, init] of routes) {
      const response = await app.request(path, { ...init, as: "mallory" });
      expect(response.status, `${init.method ?? "GET"} ${path}`).toBe(404);
      expect(JSON.stringify(await response.json())).not.toContain("kate");
    }
    expect(await rowOf(world.db, mine.id)).toEqual(done);
    // Not an id: a storage key or a path is never taken for one.
    for (const bad of [encodeURIComponent(done.key!), "..%2F..%2Fetc%2Fpasswd", "not-a-uuid"]) {
      expect((await app.request(`/exports/${bad}`, { method: "DELETE", as: "kate" })).status).toBe(404);
    }
    expect(await world.storage.stat(done.key!)).not.toBeNull();
    const list = (await (await app.request("/exports", { as: "mallory" })).json()) as ExportListResponse;
    expect(list.exports).toEqual([]);

    // The owner clears it: the row, its file, and an event for the other tabs.
    expect((await app.request(`/exports/${mine.id}`, { method: "DELETE", as: "kate" })).status).toBe(204);
    expect(await rowOf(world.db, mine.id)).toBeUndefined();
    expect(await world.storage.stat(done.key!)).toBeNull();
    await expect.poll(() => world.delivered.some((message) => message.event === "export-cleared" && message.topic === "user:kate")).toBe(true);
  });

  it("refuses cancel, retry and clear from another site (403) and changes nothing", async () => {
    const { export: queued } = await queue("cross-site", 0, "wait", "olga");
    const running = await waitForStatus(world.db, queued.id, ["running"]);
    const attempts: [string, RequestInit][] = [
      [`/exports/${queued.id}/cancel`, { method: "POST", headers: { origin: "https://evil.example" } }],
      [`/exports/${queued.id}/retry`, { method: "POST", headers: { "sec-fetch-site": "cross-site" } }],
      [`/exports/${queued.id}`, { method: "DELETE", headers: { origin: "https://evil.example" } }],
    ];
    for (const [path, init] of attempts) {
      const response = await app.request(path, { ...init, as: "olga" });
      expect(response.status, `${init.method} ${path}`).toBe(403);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("forbidden");
    }
    expect(await rowOf(world.db, queued.id)).toMatchObject({ status: "running", version: running.version });
    const sameSite = await app.request(`/exports/${queued.id}/cancel`, { method: "POST", headers: { origin: "http://localhost" }, as: "olga" });
    expect(sameSite.status).toBe(202);
    await waitForStatus(world.db, queued.id, ["cancelled"]);
  });

  it("clears a running export: cancelled first (the writer stops), then removed", async () => {
    const { export: queued } = await queue("clear-running", 0, "wait", "liam");
    await waitForStatus(world.db, queued.id, ["running"]);
    expect((await app.request(`/exports/${queued.id}`, { method: "DELETE", as: "liam" })).status).toBe(204);
    await expect.poll(() => log.aborted.has("clear-running"), { timeout: 10_000 }).toBe(true);
    expect(await rowOf(world.db, queued.id)).toBeUndefined();
    await expect.poll(() => filesMentioning(world.root, queued.id)).toEqual([]);
  });
});
