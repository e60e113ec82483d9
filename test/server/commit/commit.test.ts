import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommitRequest } from "../../../server/commit/commit";
import { asyncTempFile } from "../../../server/db/schema";
import { AsyncUploadsError } from "../../../server/errors";
import { MiB } from "../../../server/registry";
import { filesystemStorage } from "../../../server/storage/filesystem";
import type { StorageDriver } from "../../../server/storage/types";
import { createTestUploads, PDF_BYTES, PNG_1x1, type TestUploads } from "../../helpers/uploads";

/** The real filesystem driver, with copy failures injected on demand. */
function withCopyFaults(driver: StorageDriver) {
  const state = { failCopies: 0 };
  const wrapped: StorageDriver = Object.assign(Object.create(driver) as StorageDriver, {
    copy: async (from: string, to: string) => {
      if (state.failCopies > 0) {
        state.failCopies--;
        throw new Error("[filesystem] copy failed: injected fault");
      }
      return driver.copy(from, to);
    },
  });
  return { wrapped, state };
}

const exists = (path: string) => access(path).then(() => true, () => false);

describe("commit", () => {
  let t: TestUploads;
  let faults: { failCopies: number };
  let clock = 0;

  beforeAll(async () => {
    t = await createTestUploads({
      now: () => new Date(Date.now() + clock),
      register: (uploads) => {
        uploads.registry.register("docs.attachment", { maxSize: MiB });
        uploads.registry.register("docs.cover", { maxSize: MiB, accept: ["image/png", "image/jpeg"] });
        uploads.registry.register("docs.gallery", { maxSize: MiB, accept: ["image/*"], multiple: true, maxFiles: 3 });
      },
    });
    const faulty = withCopyFaults(t.storage);
    faults = faulty.state;
    // Same root, same registry: swap the cover field's storage for the faulty wrapper.
    Object.assign(t.uploads.registry.get("docs.cover")!, { storage: faulty.wrapped });
  });
  afterAll(() => t.close());

  async function uploaded(fieldId: string, bytes: Uint8Array<ArrayBuffer>, options: { filename?: string; contentType?: string; as?: string; instanceId?: string } = {}) {
    const target = await t.issue(
      {
        fieldId,
        filename: options.filename ?? "file.bin",
        contentType: options.contentType ?? "application/octet-stream",
        size: bytes.length,
        ...(options.instanceId ? { instanceId: options.instanceId } : {}),
      },
      options.as ?? "alice",
    );
    expect((await t.put(target, bytes)).status).toBe(201);
    return target.key;
  }
  const save = (request: Omit<CommitRequest, "tx">) => t.uploads.transaction((_tx, commit) => commit(request));
  const rowOf = async (key: string) => (await t.db.select().from(asyncTempFile).where(eq(asyncTempFile.key, key)))[0];
  const refusal = async (promise: Promise<unknown>) => {
    const error = await promise.then(() => null, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(AsyncUploadsError);
    expect((error as AsyncUploadsError).code).toBe("invalid_upload");
    return error as AsyncUploadsError;
  };

  it("copies a verified upload to its final key, then removes the temp object and row", async () => {
    const key = await uploaded("docs.cover", PNG_1x1, { filename: "pixel.png", contentType: "image/png" });
    const result = await save({ fieldId: "docs.cover", value: key, principal: "alice", instanceId: "doc-1" });
    expect(result.key).toMatch(/^docs\.cover\/doc-1\/[0-9a-f-]{36}\/pixel\.png$/);
    expect(result.committed).toEqual([
      { key: result.key, filename: "pixel.png", size: PNG_1x1.length, contentType: "image/png", width: 1, height: 1 },
    ]);
    expect(new Uint8Array(await readFile(join(t.root, result.key!)))).toEqual(PNG_1x1);
    expect(await exists(join(t.root, key))).toBe(false);
    expect(await rowOf(key)).toBeUndefined();
  });

  it("keeps the current key unchanged and clears with an empty value, deleting the old file after commit", async () => {
    const key = await uploaded("docs.attachment", PDF_BYTES);
    const first = await save({ fieldId: "docs.attachment", value: key, principal: "alice", instanceId: "doc-2" });
    const kept = await save({ fieldId: "docs.attachment", value: first.key, principal: "alice", instanceId: "doc-2", currentKey: first.key });
    expect(kept.key).toBe(first.key);
    expect(kept.committed).toEqual([]);
    expect(await exists(join(t.root, first.key!))).toBe(true);

    const cleared = await save({ fieldId: "docs.attachment", value: "", principal: "alice", instanceId: "doc-2", currentKey: first.key });
    expect(cleared.key).toBeNull();
    expect(await exists(join(t.root, first.key!))).toBe(false);
    expect(await rowOf(first.key!)).toBeUndefined();
  });

  it("replaces a file: the old object is deleted only once the app's transaction commits", async () => {
    const oldKey = (await save({ fieldId: "docs.attachment", value: await uploaded("docs.attachment", PDF_BYTES), principal: "alice", instanceId: "doc-3" })).key!;
    const newTemp = await uploaded("docs.attachment", PDF_BYTES);
    // The app's save fails after commit: nothing changes, the old file stays, the new copy is removed.
    const failing = t.uploads.transaction(async (_tx, commit) => {
      const result = await commit({ fieldId: "docs.attachment", value: newTemp, principal: "alice", instanceId: "doc-3", currentKey: oldKey });
      expect(await exists(join(t.root, oldKey))).toBe(true);
      expect(await exists(join(t.root, result.key!))).toBe(true);
      throw new Error("app validation failed");
    });
    await expect(failing).rejects.toThrow("app validation failed");
    expect(await exists(join(t.root, oldKey))).toBe(true);
    expect(await exists(join(t.root, newTemp))).toBe(true);
    expect((await rowOf(newTemp))?.status).toBe("pending");
    // The person saves again with the same upload: it works.
    const retried = await save({ fieldId: "docs.attachment", value: newTemp, principal: "alice", instanceId: "doc-3", currentKey: oldKey });
    expect(await exists(join(t.root, retried.key!))).toBe(true);
    expect(await exists(join(t.root, oldKey))).toBe(false);
  });

  it.each([
    ["another field", { fieldId: "docs.cover" }],
    ["another principal", { principal: "mallory" }],
    ["a made-up key", { value: "async-temp/2026/01/01/00000000-0000-0000-0000-000000000000/x.pdf" }],
    ["another record than the upload was made for", { instanceId: "doc-other" }],
  ])("refuses %s and changes nothing", async (_name, override) => {
    const key = await uploaded("docs.attachment", PDF_BYTES, { instanceId: "doc-4" });
    await refusal(save({ fieldId: "docs.attachment", value: key, principal: "alice", instanceId: "doc-4", ...override }));
    expect((await rowOf(key))?.status).toBe("pending");
    expect(await exists(join(t.root, key))).toBe(true);
  });

  it("refuses an expired upload", async () => {
    const key = await uploaded("docs.attachment", PDF_BYTES);
    clock = 25 * 3600_000;
    try {
      await refusal(save({ fieldId: "docs.attachment", value: key, principal: "alice", instanceId: "doc-5" }));
    } finally {
      clock = 0;
    }
    expect((await rowOf(key))?.status).toBe("pending");
  });

  it("refuses an upload whose object was never uploaded", async () => {
    const target = await t.issue({ fieldId: "docs.attachment", filename: "a.pdf", contentType: "application/pdf", size: 10 });
    const error = await refusal(save({ fieldId: "docs.attachment", value: target.key, principal: "alice", instanceId: "doc-6" }));
    expect(error.fieldId).toBe("docs.attachment");
    expect(error.message).toMatch(/did not finish uploading/);
  });

  it("refuses and deletes an object whose size is not the declared size", async () => {
    const target = await t.issue({ fieldId: "docs.attachment", filename: "a.pdf", contentType: "application/pdf", size: 10 });
    // Written around the route, as a misbehaving client of another backend could.
    await (t.storage as ReturnType<typeof filesystemStorage>).write(target.key, [new Uint8Array(12)], { size: 12 });
    await refusal(save({ fieldId: "docs.attachment", value: target.key, principal: "alice", instanceId: "doc-7" }));
    expect(await exists(join(t.root, target.key))).toBe(false);
  });

  it("sniffs the bytes: HTML or SVG declared as an image is refused and deleted", async () => {
    const html = new TextEncoder().encode("<html><script>alert(1)</script></html>");
    const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
    for (const [bytes, filename] of [[html, "x.png"], [svg, "x.svg.png"], [PDF_BYTES, "x.jpg"]] as const) {
      const key = await uploaded("docs.cover", bytes, { filename, contentType: "image/png" });
      const error = await refusal(save({ fieldId: "docs.cover", value: key, principal: "alice", instanceId: "doc-8" }));
      expect(error.message).toMatch(/not accepted/);
      expect(await exists(join(t.root, key))).toBe(false);
    }
  });

  it("survives a storage error in the middle of the copy: nothing committed, and a retry succeeds once", async () => {
    const key = await uploaded("docs.cover", PNG_1x1, { filename: "p.png", contentType: "image/png" });
    faults.failCopies = 1;
    await expect(save({ fieldId: "docs.cover", value: key, principal: "alice", instanceId: "doc-9" })).rejects.toThrow(/injected fault/);
    expect((await rowOf(key))?.status).toBe("pending");
    expect(await exists(join(t.root, key))).toBe(true);
    const result = await save({ fieldId: "docs.cover", value: key, principal: "alice", instanceId: "doc-9" });
    expect(await exists(join(t.root, result.key!))).toBe(true);
    // A replay of the same temp key after success is refused: exactly one final object.
    await refusal(save({ fieldId: "docs.cover", value: key, principal: "alice", instanceId: "doc-9" }));
  });

  it("commits several files of a multiple field, keeping and removing as the form says", async () => {
    const a = await uploaded("docs.gallery", PNG_1x1, { filename: "a.png", contentType: "image/png" });
    const b = await uploaded("docs.gallery", PNG_1x1, { filename: "b.png", contentType: "image/png" });
    const first = await save({ fieldId: "docs.gallery", value: [a, b], principal: "alice", instanceId: "doc-10" });
    expect(first.keys).toHaveLength(2);
    const c = await uploaded("docs.gallery", PNG_1x1, { filename: "c.png", contentType: "image/png" });
    const second = await save({ fieldId: "docs.gallery", value: [first.keys[1]!, c], principal: "alice", instanceId: "doc-10", currentKey: first.keys });
    expect(second.keys[0]).toBe(first.keys[1]);
    expect(second.committed.map((file) => file.filename)).toEqual(["c.png"]);
    expect(await exists(join(t.root, first.keys[0]!))).toBe(false);
    await refusal(save({ fieldId: "docs.gallery", value: [c, c], principal: "alice", instanceId: "doc-10" }));
    await refusal(save({ fieldId: "docs.attachment", value: ["x", "y"], principal: "alice", instanceId: "doc-10" }));
  });

  it("lets exactly one of two simultaneous saves of the same upload win (PostgreSQL)", async () => {
    if (!process.env.DATABASE_URL) return; // PGlite has a single connection: saves cannot overlap there.
    const key = await uploaded("docs.attachment", PDF_BYTES);
    const results = await Promise.allSettled([
      save({ fieldId: "docs.attachment", value: key, principal: "alice", instanceId: "doc-11" }),
      save({ fieldId: "docs.attachment", value: key, principal: "alice", instanceId: "doc-12" }),
    ]);
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    const loser = results.find((result) => result.status === "rejected") as PromiseRejectedResult;
    expect((loser.reason as AsyncUploadsError).code).toBe("invalid_upload");
  });
});
