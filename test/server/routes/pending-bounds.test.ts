import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createAsyncUploads } from "../../../server/create-async-uploads";
import { asyncTempFile } from "../../../server/db/schema";
import { MiB } from "../../../server/registry";
import { filesystemStorage } from "../../../server/storage/filesystem";
import { createTestUploads, TEST_SECRET, type TestUploads } from "../../helpers/uploads";

/**
 * The bounds on declared bytes of unsaved uploads: per principal (anonymous principals are free to
 * make, so a count per principal multiplies with sessions) and across all principals.
 */
const PER_PRINCIPAL = 10 * MiB;
const OVERALL = 24 * MiB;
const HOUR = 3_600_000;

describe("bounds on pending bytes", () => {
  let t: TestUploads;
  let clock = Date.now();
  beforeAll(async () => {
    t = await createTestUploads({
      maxPendingUploadsPerPrincipal: 1000,
      maxPendingBytesPerPrincipal: PER_PRINCIPAL,
      maxPendingBytes: OVERALL,
      tempFileLifetime: 3600,
      now: () => new Date(clock),
      register: (uploads) => uploads.registry.register("docs.attachment", { maxSize: 20 * MiB, accept: ["application/pdf"] }),
    });
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    clock = Date.now();
    await t.db.delete(asyncTempFile);
  });

  const ask = (as: string, size: number) =>
    t.request("/upload-url", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ fieldId: "docs.attachment", filename: "a.pdf", contentType: "application/pdf", size }),
      as,
    });
  const pendingBytes = async (principal?: string) => {
    const [row] = await t.db
      .select({ bytes: sql<string | null>`sum(${asyncTempFile.declaredSize})` })
      .from(asyncTempFile)
      .where(and(eq(asyncTempFile.status, "pending"), principal === undefined ? undefined : eq(asyncTempFile.principal, principal)));
    return Number(row?.bytes ?? 0);
  };

  it("refuses a principal's upload that would take its declared pending bytes over the bound, with 429", async () => {
    expect((await ask("alice", 4 * MiB)).status).toBe(201);
    expect((await ask("alice", 6 * MiB)).status).toBe(201);
    const refused = await ask("alice", 1);
    expect(refused.status).toBe(429);
    const { error } = await refused.json();
    expect(error.code).toBe("too_many_pending_bytes");
    expect(error.message).toMatch(/10 MiB/);
    expect(await pendingBytes("alice")).toBe(PER_PRINCIPAL);
    expect((await ask("bob", 4 * MiB)).status).toBe(201);
  });

  it("refuses a file larger than the per-principal bound with 413, as no wait would help", async () => {
    const refused = await ask("alice", PER_PRINCIPAL + 1);
    expect(refused.status).toBe(413);
    expect((await refused.json()).error.code).toBe("file_too_large");
    expect(await pendingBytes()).toBe(0);
  });

  it("counts only pending rows that have not expired", async () => {
    expect((await ask("alice", PER_PRINCIPAL)).status).toBe(201);
    expect((await ask("alice", 1)).status).toBe(429);
    await t.db.update(asyncTempFile).set({ status: "committed" }).where(eq(asyncTempFile.principal, "alice"));
    expect((await ask("alice", PER_PRINCIPAL)).status).toBe(201);
    expect((await ask("alice", 1)).status).toBe(429);
    clock += 2 * HOUR;
    expect((await ask("alice", PER_PRINCIPAL)).status).toBe(201);
  });

  it("refuses everyone with 429 storage_quota_reached once all principals' pending bytes reach the overall bound", async () => {
    for (const who of ["a", "b"]) expect((await ask(who, 10 * MiB)).status).toBe(201);
    expect((await ask("c", 4 * MiB)).status).toBe(201);
    const refused = await ask("d", 1);
    expect(refused.status).toBe(429);
    const { error } = await refused.json();
    expect(error.code).toBe("storage_quota_reached");
    expect(error.message.length).toBeGreaterThan(20);
    expect(await pendingBytes()).toBe(OVERALL);
  });

  it("holds exactly for 60 concurrent requests of one principal", async () => {
    const responses = await Promise.all(Array.from({ length: 60 }, () => ask("flooder", MiB)));
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(50);
    expect(await pendingBytes("flooder")).toBe(PER_PRINCIPAL);
  });

  it("holds exactly for 60 concurrent requests of 60 fresh principals (free anonymous sessions)", async () => {
    const responses = await Promise.all(Array.from({ length: 60 }, (_, i) => ask(`session-${i}`, 2 * MiB)));
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(12);
    expect(statuses.filter((status) => status === 429)).toHaveLength(48);
    expect(await pendingBytes()).toBe(OVERALL);
  });
});

describe("createAsyncUploads checks the bounds", () => {
  const base = {
    db: {} as never,
    secret: TEST_SECRET,
    storage: filesystemStorage({ root: "/nonexistent" }),
    getPrincipal: () => null,
  };
  it.each([0, -1, 1.5, Number.NaN, "10" as unknown as number, 2 ** 60])("refuses maxPendingBytesPerPrincipal %j", (value) => {
    expect(() => createAsyncUploads({ ...base, maxPendingBytesPerPrincipal: value })).toThrow(/maxPendingBytesPerPrincipal must be/);
  });
  it.each([0, -5, 0.5, Number.NaN])("refuses maxPendingBytes %j", (value) => {
    expect(() => createAsyncUploads({ ...base, maxPendingBytes: value })).toThrow(/maxPendingBytes must be/);
  });
  it.each([0, -1, 2.5])("refuses maxPendingUploadsPerPrincipal %j", (value) => {
    expect(() => createAsyncUploads({ ...base, maxPendingUploadsPerPrincipal: value })).toThrow(/maxPendingUploadsPerPrincipal must be/);
  });
  it("refuses a per-principal bound above the overall one", () => {
    expect(() => createAsyncUploads({ ...base, maxPendingBytesPerPrincipal: 2 * MiB, maxPendingBytes: MiB })).toThrow(/must not be larger than maxPendingBytes/);
  });
  it("accepts Infinity for no bound", () => {
    expect(() => createAsyncUploads({ ...base, maxPendingBytesPerPrincipal: Infinity, maxPendingBytes: Infinity })).not.toThrow();
  });
});
