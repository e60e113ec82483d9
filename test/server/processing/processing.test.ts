import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROCESSING_FAILED_REASON, type ProcessingState } from "../../../shared/processing";
import { asyncTempFile } from "../../../server/db/schema";
import { AsyncUploadsError } from "../../../server/errors";
import type { LiveServer } from "../../../server/live/live-channel";
import type { ProcessingContext } from "../../../server/processing/types";
import { createProcessingWorld, DATABASE_KINDS, eventsOf, stateOf, waitForState, type ProcessingWorld, type TestInstance } from "./harness";

const text = (content: string) => new TextEncoder().encode(content);

/** pg-boss jobs (any queue, any state) about one upload. */
async function jobsOf(world: ProcessingWorld, fileId: string): Promise<number> {
  const result = await world.db.execute(sql`select count(*)::int as n from ${sql.identifier(world.bossSchema)}.job where data->>'fileId' = ${fileId}`);
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as { n: number }[];
  return rows[0]!.n;
}

/**
 * The app's step, steered by the file name: `pass-*` passes, `reject-*` is refused, `flaky-*` throws
 * on its first attempt, `hang-*` never settles (nor looks at its signal), `slow-*` waits for `gate`.
 */
function scanStep(calls: Map<string, number>, gate: { open: () => void; wait: Promise<void> }) {
  return async (context: ProcessingContext) => {
    const count = (calls.get(context.fileId) ?? 0) + 1;
    calls.set(context.fileId, count);
    if (context.filename.startsWith("reject-")) return { reject: "It contains a virus." };
    if (context.filename.startsWith("flaky-") && count === 1) throw new Error("scanner connection reset");
    if (context.filename.startsWith("hang-")) return new Promise<void>(() => {});
    if (context.filename.startsWith("slow-")) await gate.wait;
    return undefined;
  };
}

describe.each(DATABASE_KINDS)("upload processing on %s", (kind) => {
  let world: ProcessingWorld;
  let app: TestInstance;
  const calls = new Map<string, number>();
  const logged: string[] = [];
  let openGate!: () => void;
  const gate = { open: () => openGate(), wait: new Promise<void>((resolve) => (openGate = resolve)) };

  beforeAll(async () => {
    world = await createProcessingWorld(kind);
    app = await world.instance({
      log: (message) => logged.push(message),
      register: (uploads) => {
        uploads.registry.register("docs.scanned", {
          maxSize: 1024 * 1024,
          accept: ["text/plain", ".txt"],
          processing: [{ name: "virus-scan", label: "Scanning for viruses", run: scanStep(calls, gate), timeoutSeconds: 1, retryLimit: 1 }],
        });
        uploads.registry.register("docs.plain", { maxSize: 1024 * 1024 });
        uploads.registry.register("docs.chunked", { maxSize: 1024 * 1024, multipartThreshold: 1, processing: [{ name: "virus-scan", run: scanStep(calls, gate) }] });
      },
    });
  }, 120_000);
  afterAll(() => world?.close(), 60_000);

  it("runs verify, then the app's step, and the file passes; every change is one committed event, in order", async () => {
    const target = await app.upload("docs.scanned", "pass-1.txt", text("clean"));
    expect(target.processing).toMatchObject({
      fileId: expect.any(String),
      topicToken: expect.any(String),
      steps: [
        { name: "verify", label: "Checking" },
        { name: "virus-scan", label: "Scanning for viruses" },
      ],
    });
    const fileId = target.processing!.fileId;
    const response = await app.process(target.key);
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ fileId, state: "queued", step: null, label: null, reason: null, version: 1 });

    expect(await waitForState(world.db, fileId, ["passed", "rejected", "failed"])).toMatchObject({ state: "passed", step: "virus-scan", version: 4 });
    await expect.poll(() => eventsOf(world, fileId).length).toBe(4);
    expect(eventsOf(world, fileId).map(({ state, step, label, version }) => [state, step, label, version])).toEqual([
      ["queued", null, null, 1],
      ["running", "verify", "Checking", 2],
      ["running", "virus-scan", "Scanning for viruses", 3],
      ["passed", "virus-scan", "Scanning for viruses", 4],
    ]);
    expect(calls.get(fileId)).toBe(1);
    expect(await jobsOf(world, fileId)).toBe(2); // one per step (verify, virus-scan)

    // Asking again answers the result and starts nothing.
    const again = await app.process(target.key);
    expect(again.status).toBe(202);
    expect(await again.json()).toMatchObject({ state: "passed", version: 4 });

    const saved = await app.uploads.commit({ fieldId: "docs.scanned", value: target.key, principal: "alice", instanceId: "doc-1" });
    expect(saved.committed).toHaveLength(1);
  });

  it("rejects with the step's reason, and commit refuses the file with it", async () => {
    const target = await app.upload("docs.scanned", "reject-1.txt", text("EICAR"));
    const fileId = target.processing!.fileId;
    expect((await app.process(target.key)).status).toBe(202);
    expect(await waitForState(world.db, fileId, ["passed", "rejected", "failed"])).toMatchObject({ state: "rejected", reason: "It contains a virus." });
    // Its bytes go at once: a rejected file can never be saved.
    await expect.poll(() => world.storage.stat(target.key)).toBeNull();
    const refusal = await app.uploads.commit({ fieldId: "docs.scanned", value: target.key, principal: "alice", instanceId: "doc-2" }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(AsyncUploadsError);
    expect(refusal).toMatchObject({ code: "invalid_upload", message: "This file was rejected: It contains a virus." });
  });

  it("starts a file once when process is asked twice at the same time", async () => {
    const target = await app.upload("docs.scanned", "pass-twice.txt", text("clean"));
    const fileId = target.processing!.fileId;
    const answers = await Promise.all([app.process(target.key), app.process(target.key)]);
    expect(answers.map((answer) => answer.status)).toEqual([202, 202]);
    expect((await Promise.all(answers.map((answer) => answer.json()))).map((state: ProcessingState) => state.version)).toEqual([1, 1]);
    await waitForState(world.db, fileId, ["passed"]);
    expect(calls.get(fileId)).toBe(1);
    await expect.poll(() => eventsOf(world, fileId).map((event) => event.state)).toEqual(["queued", "running", "running", "passed"]);
  });

  it("rejects in verify a file whose bytes are not what the field accepts, before the app's step runs", async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
    const target = await app.upload("docs.scanned", "pass-disguised.txt", png);
    const fileId = target.processing!.fileId;
    await app.process(target.key);
    const final = await waitForState(world.db, fileId, ["passed", "rejected", "failed"]);
    expect(final).toMatchObject({ state: "rejected", step: "verify" });
    expect(final.reason).toMatch(/image\/png.*not accepted/);
    expect(calls.has(fileId)).toBe(false);
  });

  it("retries a step that threw, and the file passes on the retry; the error is logged, not shown", async () => {
    const target = await app.upload("docs.scanned", "flaky-1.txt", text("clean"));
    const fileId = target.processing!.fileId;
    await app.process(target.key);
    expect(await waitForState(world.db, fileId, ["passed", "rejected", "failed"])).toMatchObject({ state: "passed", reason: null });
    expect(calls.get(fileId)).toBe(2);
    expect(logged).toContainEqual(expect.stringContaining(`"virus-scan" of upload ${fileId} failed (attempt 1 of 2)`));
    expect(JSON.stringify(eventsOf(world, fileId))).not.toContain("scanner connection reset");
  });

  it("a hung step times out, is retried, then the file fails with 'could not be checked'; another file is not held up; asking again tries again", async () => {
    const hung = await app.upload("docs.scanned", "hang-1.txt", text("clean"));
    const fine = await app.upload("docs.scanned", "pass-2.txt", text("clean"));
    const hungId = hung.processing!.fileId;
    await app.process(hung.key);
    await waitForState(world.db, hungId, ["running"]);
    await expect.poll(() => calls.get(hungId), { timeout: 10_000 }).toBe(1);
    await app.process(fine.key);
    // The other file passes while the hung one is still being tried.
    await waitForState(world.db, fine.processing!.fileId, ["passed"], 15_000);
    expect((await stateOf(world.db, hungId))?.state).toBe("running");

    const failed = await waitForState(world.db, hungId, ["passed", "rejected", "failed"], 60_000);
    expect(failed).toMatchObject({ state: "failed", step: "virus-scan", reason: PROCESSING_FAILED_REASON });
    expect(calls.get(hungId)).toBe(2); // retryLimit 1: two attempts
    const last = eventsOf(world, hungId).at(-1);
    expect(last).toMatchObject({ state: "failed", reason: PROCESSING_FAILED_REASON });

    const refusal = await app.uploads.commit({ fieldId: "docs.scanned", value: hung.key, principal: "alice", instanceId: "doc-3" }).catch((error: unknown) => error);
    expect(refusal).toMatchObject({ code: "invalid_upload", message: "This file could not be checked. Try again, or choose another file." });

    // "Try again": queued anew, with a higher version than every earlier state.
    const retry = await app.process(hung.key);
    expect(retry.status).toBe(202);
    const queued = (await retry.json()) as ProcessingState;
    expect(queued).toMatchObject({ state: "queued", step: null, reason: null });
    expect(queued.version).toBeGreaterThan(failed.version);
    await expect.poll(() => calls.get(hungId), { timeout: 20_000 }).toBe(3);
  }, 120_000);

  it("commit refuses a file that is still being checked, or that was never sent to processing", async () => {
    const target = await app.upload("docs.scanned", "slow-1.txt", text("clean"));
    const fileId = target.processing!.fileId;
    const commit = () => app.uploads.commit({ fieldId: "docs.scanned", value: target.key, principal: "alice", instanceId: "doc-4" }).catch((error: unknown) => error);
    expect(await commit()).toMatchObject({ code: "invalid_upload", message: "This file is still being checked. Wait until it is ready, or remove it." });
    await app.process(target.key);
    await expect.poll(() => calls.get(fileId), { timeout: 15_000 }).toBe(1);
    expect(await commit()).toMatchObject({ code: "invalid_upload", message: "This file is still being checked. Wait until it is ready, or remove it." });
    gate.open();
    await waitForState(world.db, fileId, ["passed"]);
    expect(await commit()).toMatchObject({ committed: [expect.objectContaining({ filename: "slow-1.txt" })] });
  });

  it("refuses bad requests to process with the contract's codes, leaving no job and no state behind", async () => {
    const notUploaded = await app.upload("docs.scanned", "pass-3.txt", text("clean"), { store: false });
    const bobs = await app.upload("docs.scanned", "pass-4.txt", text("clean"), { as: "bob" });
    const plain = await app.upload("docs.plain", "plain.txt", text("clean"));
    expect(plain.processing).toBeUndefined();
    const post = (body: string, init: { as?: string | null; contentType?: string } = {}) =>
      app.request("/process", { method: "POST", headers: { "content-type": init.contentType ?? "application/json" }, body, as: init.as === undefined ? "alice" : init.as });
    const cases: [string, Promise<Response>, number, string][] = [
      ["no principal", post(JSON.stringify({ key: notUploaded.key }), { as: null }), 401, "unauthenticated"],
      ["another principal's upload", post(JSON.stringify({ key: bobs.key })), 404, "not_found"],
      ["a field without steps", post(JSON.stringify({ key: plain.key })), 404, "not_found"],
      ["an unknown key", post(JSON.stringify({ key: "async-temp/2026/01/01/nope/x.txt" })), 404, "not_found"],
      ["bytes not uploaded yet", post(JSON.stringify({ key: notUploaded.key })), 409, "not_uploaded"],
      ["no key", post("{}"), 400, "invalid_request"],
      ["an extra property", post(JSON.stringify({ key: notUploaded.key, step: 2 })), 400, "invalid_request"],
      ["a NUL in the key", post(JSON.stringify({ key: "a\u0000b" })), 400, "invalid_request"],
      ["malformed JSON", post("{"), 400, "invalid_request"],
      ["a form body", post(`key=${notUploaded.key}`, { contentType: "application/x-www-form-urlencoded" }), 400, "invalid_request"],
    ];
    for (const [what, response, status, code] of cases) {
      const answer = await response;
      expect(answer.status, what).toBe(status);
      expect(await answer.json(), what).toMatchObject({ error: { code, message: expect.any(String) } });
    }
    for (const target of [notUploaded, bobs, plain]) {
      const [row] = await world.db.select().from(asyncTempFile).where(eq(asyncTempFile.key, target.key));
      expect(row).toMatchObject({ processingState: null, processingVersion: 0 });
      expect(eventsOf(world, row!.id)).toEqual([]);
      expect(await jobsOf(world, row!.id)).toBe(0);
    }
    // Once the bytes are there, the same request works.
    await app.request(notUploaded.upload.url, { method: "PUT", headers: notUploaded.upload.headers, body: text("clean"), as: null });
    expect((await app.process(notUploaded.key)).status).toBe(202);
  });

  it("plans processing for a chunked upload too, and refuses to start it before its parts are assembled", async () => {
    const response = await app.request("/upload-url", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ fieldId: "docs.chunked", filename: "big.txt", contentType: "text/plain", size: 100, multipart: true }),
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as { key: string; multipart: unknown; processing?: { fileId: string; steps: unknown[] } };
    expect(body.multipart).toBeDefined();
    expect(body.processing?.steps).toEqual([
      { name: "verify", label: "Checking" },
      { name: "virus-scan", label: "Virus scan" },
    ]);
    const early = await app.process(body.key);
    expect(early.status).toBe(409);
    expect(await early.json()).toMatchObject({ error: { code: "not_uploaded" } });
    expect(await stateOf(world.db, body.processing!.fileId)).toMatchObject({ state: null, version: 0 });
  });

  it("gives the upload:<id> snapshot to its own principal only", async () => {
    const target = await app.upload("docs.scanned", "pass-5.txt", text("clean"));
    const fileId = target.processing!.fileId;
    const live = app.uploads.live as LiveServer;
    expect(await live.snapshot(`upload:${fileId}`, "alice")).toBeNull(); // not processing yet
    await app.process(target.key);
    const passed = await waitForState(world.db, fileId, ["passed"]);
    expect(await live.snapshot(`upload:${fileId}`, "alice")).toMatchObject({
      topic: `upload:${fileId}`,
      event: "processing",
      version: passed.version,
      data: { fileId, state: "passed", step: "virus-scan", label: "Scanning for viruses", reason: null, version: passed.version },
    });
    expect(await live.snapshot(`upload:${fileId}`, "bob")).toBeNull();
    expect(await live.snapshot("upload:not-a-uuid", "alice")).toBeNull();
  });
});
