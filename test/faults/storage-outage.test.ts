import { request as httpRequest } from "node:http";
import { eq } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { cleanupTempFiles, type CleanupSummary } from "../../server/cleanup/cleanup-temp-files";
import type { CommitResult } from "../../server/commit/commit";
import { asyncTempFile } from "../../server/db/schema";
import { AsyncUploadsError } from "../../server/errors";
import type { StorageDriver } from "../../server/storage/types";
import { startBackend, type TestBackend } from "../helpers/backends";
import { PDF_BYTES } from "../helpers/uploads";
import { createHarness, FIELDS, refused, type Harness } from "../security/harness";

/**
 * The storage service really stops (s3rver closes, Azurite is terminated) in the middle of an upload,
 * a commit, a download and a cleanup, and comes back with its data. After each: no record points at
 * a missing object, no object a record needs is gone, the next run repairs what is left, and the
 * server keeps answering.
 */
const DAY_AND_AN_HOUR = 25 * 60 * 60 * 1000;
const LARGE = "docs.large";
let largeKey: string | null = null;

for (const name of ["s3", "azure"] as const) {
  describe(`storage outage on ${name}`, () => {
    let svc: TestBackend;
    let h: Harness;
    const logged: string[] = [];
    beforeAll(async () => {
      // Two tries: one for a request that meets the restart; no kept-alive sockets across it.
      svc = await startBackend(name, { bucket: "faults", restartable: true, attempts: 2, s3UploadMethod: "PUT" });
      h = await createHarness(svc, {
        maxPendingUploadsPerPrincipal: 1000,
        log: (message) => logged.push(message),
        register: (uploads) => uploads.registry.register(LARGE, { maxSize: 64 * 1024 * 1024, canDownload: () => true, resolveKey: async () => largeKey }),
      });
    });
    afterAll(() => h?.close());
    afterEach(async () => {
      if (!svc.up) await svc.bringBack();
    });

    /** Every key a record holds exists in storage, with its bytes. */
    async function expectRecordsIntact() {
      for (const [instanceId, record] of h.records) {
        for (const keys of Object.values(record.keys)) {
          for (const key of keys) expect(await svc.storage.stat(key), `${instanceId}: ${key}`).not.toBeNull();
        }
      }
    }
    /** While the service is down, the server still answers: refusals stay refusals, and nothing is a hang. */
    async function expectServerAnswers() {
      const bad = await h.request("/upload-url", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect(bad.status).toBe(400);
      // S3 and Azure URLs are signed locally: issuing one needs no call to the service.
      const good = await h.request("/upload-url", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ fieldId: FIELDS.file, filename: "a.pdf", contentType: "application/pdf", size: 10 }),
      });
      expect(good.status).toBe(201);
    }
    const fieldKeys = async (instanceId: string) => (await svc.list()).filter((key) => key.includes(`/${instanceId}/`));
    /** Wraps the field's storage for one test. */
    function wrap(fieldId: string, override: (original: StorageDriver) => Partial<StorageDriver>) {
      const field = h.uploads.registry.get(fieldId)!;
      const original = field.storage;
      Object.assign(field, { storage: Object.assign(Object.create(original) as StorageDriver, override(original)) });
      return () => Object.assign(field, { storage: original });
    }

    it("stops in the middle of an upload: the half-sent file is never committed, and the next upload works", async () => {
      const size = 512 * 1024;
      const target = await h.issue({ fieldId: FIELDS.file, filename: "big.bin", contentType: "application/octet-stream", size });
      const outcome = await slowUpload(target.upload.url, target.upload.headers, size, { onSent: (sent) => sent >= 128 * 1024 && svc.up && void svc.takeDown() });
      expect(outcome === "error" || outcome >= 400).toBe(true);
      await expectServerAnswers();
      await svc.bringBack();
      // Whatever the service kept (nothing, or a part) is refused and removed.
      await refused(h.save("alice", "up-1", FIELDS.file, target.key));
      expect(await svc.storage.stat(target.key)).toBeNull();
      expect(await fieldKeys("up-1")).toEqual([]);
      const again = await h.uploaded(FIELDS.file, new Uint8Array(size).fill(7), { filename: "big.bin" });
      const saved = await h.save("alice", "up-1", FIELDS.file, again);
      expect((await svc.storage.stat(saved.key!))?.size).toBe(size);
      await expectRecordsIntact();
    });

    it("stops before the commit reads the upload: a server error (not a refusal), nothing changes, the retry commits once", async () => {
      const key = await h.uploaded(FIELDS.file, PDF_BYTES);
      await svc.takeDown();
      const error = await h.save("alice", "c-1", FIELDS.file, key).then(() => null, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(AsyncUploadsError);
      expect(String(error)).toMatch(new RegExp(`\\[${name}\\]`));
      await expectServerAnswers();
      await svc.bringBack();
      expect((await h.rowOf(key))?.status).toBe("pending");
      expect(h.records.get("c-1")).toBeUndefined();
      const saved = await h.save("alice", "c-1", FIELDS.file, key);
      expect(await fieldKeys("c-1")).toEqual([saved.key]);
      expect(await svc.storage.stat(key)).toBeNull();
      await expectRecordsIntact();
    });

    it("stops between the copy and the row update: the save fails, and the retry leaves exactly one final object", async () => {
      const key = await h.uploaded(FIELDS.file, PDF_BYTES);
      const restore = wrap(FIELDS.file, (original) => ({
        copy: async (from, to) => {
          await original.copy(from, to);
          await svc.takeDown();
        },
      }));
      try {
        await expect(h.save("alice", "c-2", FIELDS.file, key)).rejects.toThrow(new RegExp(`\\[${name}\\]`));
      } finally {
        restore();
      }
      await svc.bringBack();
      // The rollback could not delete the copy while the service was down: it is left, unreferenced.
      expect((await h.rowOf(key))?.status).toBe("pending");
      expect(h.records.get("c-2")).toBeUndefined();
      const saved = await h.save("alice", "c-2", FIELDS.file, key);
      // The retry lands on the same final key: the leftover is now the record's file, not a second copy.
      expect(await fieldKeys("c-2")).toEqual([saved.key]);
      expect(await svc.storage.readFirstBytes(saved.key!, 1024)).toEqual(PDF_BYTES);
      expect(await svc.storage.stat(key)).toBeNull();
      expect(await h.rowOf(key)).toBeUndefined();
      await expectRecordsIntact();
    });

    it("stops after the save committed, before the temp object is deleted: the record is whole and cleanup finishes", async () => {
      const key = await h.uploaded(FIELDS.file, PDF_BYTES);
      logged.length = 0;
      const restore = wrap(FIELDS.file, (original) => ({
        delete: async (deleted) => {
          if (deleted === key) await svc.takeDown();
          return original.delete(deleted);
        },
      }));
      let saved: CommitResult | undefined;
      try {
        saved = await h.save("alice", "c-3", FIELDS.file, key);
      } finally {
        restore();
      }
      expect(logged.some((message) => message.includes("cleanup-temp-files"))).toBe(true);
      await expectServerAnswers();
      await svc.bringBack();
      expect((await h.rowOf(key))?.status).toBe("committed");
      expect(await svc.storage.stat(key)).not.toBeNull();
      const summary = await cleanupTempFiles(h.uploads, { now: () => new Date(Date.now() + DAY_AND_AN_HOUR) });
      expect(summary.failed).toBe(0);
      expect(await h.rowOf(key)).toBeUndefined();
      expect(await svc.storage.stat(key)).toBeNull();
      expect(await svc.storage.readFirstBytes(saved!.key!, 1024)).toEqual(PDF_BYTES);
      await expectRecordsIntact();
    });

    it("stops during a download: the redirect is still issued, the transfer breaks, the same URL works after the restart", async () => {
      const size = 16 * 1024 * 1024;
      const content = new Uint8Array(size).map((_, i) => i % 251);
      largeKey = (await h.save("alice", "dl-1", LARGE, await h.uploaded(LARGE, content, { filename: "d.bin" }))).key;
      await svc.takeDown();
      const redirect = await h.request(`/download/${LARGE}/dl-1`);
      expect(redirect.status).toBe(302);
      const location = redirect.headers.get("location")!;
      await expect(fetch(location)).rejects.toThrow();
      await svc.bringBack();
      // Cut in the middle of the transfer this time: read a first chunk, then stop the service.
      const response = await fetch(location);
      const reader = response.body!.getReader();
      await reader.read();
      await svc.takeDown();
      let received = 0;
      const broken = await (async () => {
        for (;;) {
          const chunk = await reader.read();
          if (chunk.done) return false;
          received += chunk.value.length;
        }
      })().catch(() => true);
      expect(broken, `received ${received} more bytes`).toBe(true);
      await svc.bringBack();
      const whole = Buffer.from(await (await fetch(location)).arrayBuffer());
      expect(whole.length).toBe(size);
      expect(whole.equals(content)).toBe(true);
      await expectRecordsIntact();
    });

    it("stops in the middle of a cleanup run: what it could not remove stays for the next run, saved files are untouched", async () => {
      const abandoned = [];
      for (let i = 0; i < 12; i++) abandoned.push(await h.uploaded(FIELDS.small, new Uint8Array(10).fill(i), { filename: `old-${i}.bin` }));
      h.records.set("keep-1", { owner: "alice", keys: {} });
      const kept = await h.save("alice", "keep-1", FIELDS.file, await h.uploaded(FIELDS.file, PDF_BYTES));
      // The first three deletes go through; the fourth finds the service stopped under it. S3 and
      // Azure delete a batch's keys in one deleteMany call: its first three keys go through, then the rest.
      const firstThree: Promise<unknown>[] = [];
      let stopping: Promise<void> | undefined;
      const stop = () => (stopping ??= Promise.all(firstThree).then(() => svc.takeDown()));
      const restore = wrap(FIELDS.small, (original) => ({
        delete: async (key) => {
          if (firstThree.length < 3) {
            const done = original.delete(key);
            firstThree.push(done.catch(() => {}));
            return done;
          }
          await stop();
          return original.delete(key);
        },
        ...(original.deleteMany && {
          deleteMany: async (keys: readonly string[]) => {
            const head = keys.slice(0, 3 - firstThree.length);
            const done = head.length > 0 ? original.deleteMany!(head) : Promise.resolve([]);
            for (const _ of head) firstThree.push(done.catch(() => {}));
            const failures = [...(await done)];
            if (head.length === keys.length) return failures;
            await stop();
            return [...failures, ...(await original.deleteMany!(keys.slice(head.length)))];
          },
        }),
      }));
      const later = () => new Date(Date.now() + DAY_AND_AN_HOUR);
      let first: CleanupSummary | undefined;
      try {
        first = await cleanupTempFiles(h.uploads, { now: later, batchSize: 5, fieldIds: [FIELDS.small] });
      } finally {
        restore();
      }
      expect(first!.removed).toBe(3);
      expect(first!.failed).toBeGreaterThan(0);
      expect(first!.removed).toBeLessThan(12);
      // Down for good: a run now refuses to start rather than fail every row.
      await expect(cleanupTempFiles(h.uploads, { now: later, fieldIds: [FIELDS.small] })).rejects.toThrow(/not usable/);
      await svc.bringBack();
      const second = await cleanupTempFiles(h.uploads, { now: later, fieldIds: [FIELDS.small] });
      expect(second.failed).toBe(0);
      expect(first!.removed + second.removed).toBe(12);
      for (const key of abandoned) {
        expect(await svc.storage.stat(key)).toBeNull();
        expect(await h.rowOf(key)).toBeUndefined();
      }
      expect(await h.db.select().from(asyncTempFile).where(eq(asyncTempFile.fieldId, FIELDS.small))).toEqual([]);
      expect(await svc.storage.readFirstBytes(kept.key!, 1024)).toEqual(PDF_BYTES);
      await expectRecordsIntact();
    });
  });
}

/**
 * PUTs `size` bytes in 16 KiB chunks, 10 ms apart, with an exact Content-Length (as browsers do).
 * Resolves with the status, or "error" when the connection broke.
 */
function slowUpload(url: string, headers: Record<string, string>, size: number, options: { onSent?: (sent: number) => void } = {}): Promise<number | "error"> {
  return new Promise((resolve) => {
    const request = httpRequest(url, { method: "PUT", headers: { ...headers, "content-length": String(size) } }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
      response.on("error", () => resolve("error"));
    });
    request.on("error", () => resolve("error"));
    let sent = 0;
    const next = () => {
      if (request.destroyed) return;
      if (sent >= size) return void request.end();
      const length = Math.min(16 * 1024, size - sent);
      request.write(Buffer.alloc(length, 0x55), () => {
        sent += length;
        options.onSent?.(sent);
        setTimeout(next, 10);
      });
    };
    next();
  });
}
