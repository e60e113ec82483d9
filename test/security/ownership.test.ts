import { count, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asyncTempFile } from "../../server/db/schema";
import { PDF_BYTES, PNG_1x1 } from "../helpers/uploads";
import { createHarness, errorOf, FIELDS, onPostgres, refused, type Harness } from "./harness";

/**
 * Ownership: an upload belongs to one principal, one field and (when given) one record, and it can
 * be saved once. Every attack here is made by someone who knows or guesses a key.
 */
describe("ownership", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness("filesystem", { maxPendingUploadsPerPrincipal: 1000 });
  });
  afterAll(() => h?.close());

  it("another principal cannot save Alice's upload, learns nothing from the refusal, and Alice still can", async () => {
    const key = await h.uploaded(FIELDS.file, PDF_BYTES);
    const stolen = await refused(h.save("mallory", "mallory-1", FIELDS.file, key));
    const madeUp = await refused(h.save("mallory", "mallory-1", FIELDS.file, key.replace(/[0-9a-f]{8}-/, "00000000-")));
    // Same message for "exists but not yours" and "does not exist": no oracle for guessing keys.
    expect(stolen.message).toBe(madeUp.message);
    expect((await h.rowOf(key))?.status).toBe("pending");
    const mine = await h.save("alice", "alice-1", FIELDS.file, key);
    expect((await h.backend.storage.stat(mine.key!))?.size).toBe(PDF_BYTES.length);
  });

  it("an anonymous save (no principal) cannot use anybody's upload", async () => {
    const key = await h.uploaded(FIELDS.file, PDF_BYTES);
    await refused(h.save(null, "anon-1", FIELDS.file, key));
    expect((await h.rowOf(key))?.status).toBe("pending");
  });

  it("a key uploaded through a lax field cannot be saved into a strict one (size limit bypass)", async () => {
    // docs.file takes 1 MiB, docs.small 1 KiB: the upload is made where it is allowed, then submitted where it is not.
    const big = new Uint8Array(4096).fill(0x41);
    const key = await h.uploaded(FIELDS.file, big, { filename: "big.txt", contentType: "text/plain" });
    await refused(h.save("alice", "small-1", FIELDS.small, key));
    expect((await h.rowOf(key))?.status).toBe("pending");
    expect((await h.backend.storage.stat(key))?.size).toBe(4096);
  });

  it("a key uploaded for Alice's own record cannot be moved into another record of hers by a tampered form", async () => {
    h.records.set("alice-a", { owner: "alice", keys: {} });
    h.records.set("alice-b", { owner: "alice", keys: {} });
    const key = await h.uploaded(FIELDS.file, PDF_BYTES, { instanceId: "alice-a" });
    await refused(h.save("alice", "alice-b", FIELDS.file, key));
    expect((await h.save("alice", "alice-a", FIELDS.file, key)).key).toMatch(/^docs\.file\/alice-a\//);
  });

  it("an upload URL for someone else's record is refused at the door (403, no row)", async () => {
    h.records.set("bob-1", { owner: "bob", keys: {} });
    const response = await h.request("/upload-url", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ fieldId: FIELDS.file, filename: "x.pdf", contentType: "application/pdf", size: 10, instanceId: "bob-1" }),
      as: "mallory",
    });
    expect((await errorOf(response, 403)).code).toBe("forbidden");
    expect((await h.db.select({ n: count() }).from(asyncTempFile).where(eq(asyncTempFile.principal, "mallory")))[0]?.n).toBe(0);
  });

  it("a committed key replayed into another record, by its owner or anyone else, is refused and changes nothing", async () => {
    const key = await h.uploaded(FIELDS.image, PNG_1x1, { filename: "p.png", contentType: "image/png" });
    const first = await h.save("alice", "replay-1", FIELDS.image, key);
    const stored = await h.backend.list();
    await refused(h.save("alice", "replay-2", FIELDS.image, key));
    await refused(h.save("mallory", "replay-3", FIELDS.image, key));
    await refused(h.save("alice", "replay-1", FIELDS.image, [key]));
    expect(await h.backend.list()).toEqual(stored);
    expect(h.records.get("replay-1")?.keys[FIELDS.image]).toEqual([first.key]);
  });

  it("another record's final key submitted as a new value is refused (no file theft by key)", async () => {
    h.records.set("victim", { owner: "bob", keys: {} });
    const victim = await h.save("bob", "victim", FIELDS.file, await h.uploaded(FIELDS.file, PDF_BYTES, { as: "bob" }));
    await refused(h.save("mallory", "thief", FIELDS.file, victim.key));
    await refused(h.save("bob", "bob-2", FIELDS.file, victim.key)); // not even its owner, into another record
    expect(h.records.get("thief")).toBeUndefined();
    expect((await h.backend.storage.stat(victim.key!))?.size).toBe(PDF_BYTES.length);
  });

  it("a refused upload is deleted, and bad bytes put back behind the app's back are refused again", async () => {
    const bad = await h.uploaded(FIELDS.image, PDF_BYTES, { filename: "x.png", contentType: "image/png" });
    await refused(h.save("alice", "failed-1", FIELDS.image, bad));
    expect(await h.backend.storage.stat(bad)).toBeNull();
    expect((await h.rowOf(bad))?.status).not.toBe("committed");
    await h.backend.put(bad, new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'));
    await refused(h.save("alice", "failed-1", FIELDS.image, bad));
    expect(await h.backend.storage.stat(bad)).toBeNull();
    expect(h.records.get("failed-1")).toBeUndefined();
  });

  it("a removed file's key cannot be brought back into a record as an upload", async () => {
    const first = await h.save("alice", "removal-1", FIELDS.file, await h.uploaded(FIELDS.file, PDF_BYTES));
    // Held back while the removal is pending: the old key is in a `discarded` row until afterCommit
    // has deleted it, which waits here for the field's storage to delete.
    const storage = h.uploads.registry.get(FIELDS.file)!.storage;
    const deleteNow = storage.delete;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    storage.delete = async (key) => (await released, deleteNow.call(storage, key));
    try {
      const removing = h.uploads.commit({ fieldId: FIELDS.file, value: "", principal: "alice", instanceId: "removal-1", currentKey: first.key });
      await expect.poll(async () => (await h.rowOf(first.key!))?.status).toBe("discarded");
      await refused(h.save("alice", "removal-2", FIELDS.file, first.key));
      release();
      await removing;
    } finally {
      storage.delete = deleteNow;
    }
    await refused(h.save("alice", "removal-2", FIELDS.file, first.key));
    expect(await h.backend.storage.stat(first.key!)).toBeNull();
    expect(await h.rowOf(first.key!)).toBeUndefined();
  });

  it("double submit: of eight saves of one key at once, exactly one wins and one final object exists", async () => {
    const key = await h.uploaded(FIELDS.file, PDF_BYTES);
    const before = new Set(await h.backend.list());
    // Half into the same record (a double click), half into others (two tabs).
    const instances = ["dup-a", "dup-a", "dup-a", "dup-a", "dup-b", "dup-c", "dup-d", "dup-e"];
    const results = await Promise.allSettled(instances.map((instanceId) => h.save("alice", instanceId, FIELDS.file, key)));
    const winners = results.filter((result) => result.status === "fulfilled");
    expect(winners).toHaveLength(1);
    for (const result of results) {
      if (result.status === "rejected") expect((result.reason as { code?: string }).code).toBe("invalid_upload");
    }
    const after = (await h.backend.list()).filter((stored) => !before.has(stored));
    const winner = (winners[0] as PromiseFulfilledResult<{ key: string | null }>).value;
    expect(after).toEqual([winner.key]);
    expect(await h.backend.storage.stat(key)).toBeNull();
    expect(await h.rowOf(key)).toBeUndefined();
  });
});

/**
 * A flood of upload-url requests from one principal. The limit is checked and the row inserted under
 * a per-principal lock, so requests sent all at once cannot race past it. On PGlite (one connection)
 * requests are still interleaved between the count and the insert, so this runs on both.
 */
describe("flood of upload-url requests", () => {
  let h: Harness;
  const LIMIT = 5;
  beforeAll(async () => {
    h = await createHarness("filesystem", { maxPendingUploadsPerPrincipal: LIMIT });
  });
  afterAll(() => h?.close());

  const ask = (as: string, fieldId: string = FIELDS.file) =>
    h.request("/upload-url", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ fieldId, filename: "a.pdf", contentType: "application/pdf", size: PDF_BYTES.length }),
      as,
    });
  const pending = async (principal: string) =>
    (await h.db.select({ n: count() }).from(asyncTempFile).where(eq(asyncTempFile.principal, principal)))[0]?.n;

  it(`60 concurrent requests get exactly ${LIMIT} URLs and 55 × 429 too_many_uploads`, async () => {
    const responses = await Promise.all(Array.from({ length: 60 }, () => ask("flooder")));
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(LIMIT);
    expect(statuses.filter((status) => status === 429)).toHaveLength(60 - LIMIT);
    const refusedBody = await responses.find((response) => response.status === 429)!.json();
    expect(refusedBody.error.code).toBe("too_many_uploads");
    expect(await pending("flooder")).toBe(LIMIT);
    // Someone else is not affected.
    expect((await ask("bystander")).status).toBe(201);
  });

  it("the limit counts every field of the principal, and a save frees a slot", async () => {
    for (let i = 0; i < LIMIT; i++) expect((await ask("spreader", i % 2 ? FIELDS.file : FIELDS.small)).status).toBe(201);
    expect((await ask("spreader", FIELDS.word)).status).toBe(429);
    const [row] = await h.db.select().from(asyncTempFile).where(eq(asyncTempFile.principal, "spreader")).limit(1);
    await h.backend.put(row!.key, PDF_BYTES);
    await h.save("spreader", "spreader-1", row!.fieldId, row!.key);
    expect((await ask("spreader")).status).toBe(201);
    expect((await ask("spreader")).status).toBe(429);
  });

  it.runIf(onPostgres)("holds under real concurrency on PostgreSQL with several connections", async () => {
    // Separate from the first case: here every request has its own pooled connection.
    const responses = await Promise.all(Array.from({ length: 40 }, () => ask("parallel")));
    expect(responses.filter((response) => response.status === 201)).toHaveLength(LIMIT);
    expect(await pending("parallel")).toBe(LIMIT);
  });
});
