import { describe, expect, it } from "vitest";
import { findResumable, resumeInParts, uploadInParts, type MultipartUploadOptions } from "../../client/async-file-input/multipart-upload";
import { UploadFailure } from "../../client/async-file-input/upload-failure";
import { FakeTransport, MemoryStorage, type PartAttempt } from "./fake-transport";

/**
 * The chunked upload against a fake server and storage (`FakeTransport`); the real routes, storages and
 * Chromium's network are exercised by test/e2e/multipart.test.ts. A file of 45 bytes in parts of 10:
 * five parts, the last one 5 bytes.
 */
const PART_SIZE = 10;
const SIZE = 45;
const KEY = "async-temp/u1/film.bin";
const file = new File([new Uint8Array(SIZE).map((_, i) => i)], "film.bin", { type: "application/octet-stream", lastModified: 1_700_000_000_000 });

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const dropped = () => new UploadFailure({ code: "network_error", transient: true });

function setup(options: Partial<MultipartUploadOptions> = {}) {
  const transport = new FakeTransport({ key: KEY, partSize: PART_SIZE, partCount: 5 });
  const storage = new MemoryStorage();
  const delays: number[] = [];
  /** A fresh page's worth of options: new signal, new progress log, the same storage and server. */
  const start = (more: Partial<MultipartUploadOptions> = {}) => {
    const controller = new AbortController();
    const progress: number[] = [];
    const upload: MultipartUploadOptions = {
      endpoint: "/async-uploads",
      fieldId: "f",
      file,
      signal: controller.signal,
      transport,
      storage,
      onProgress: (loaded) => progress.push(loaded),
      retryDelay: (retry) => {
        delays.push(retry);
        return 0;
      },
      ...options,
      ...more,
    };
    return { upload, controller, progress };
  };
  return { transport, storage, delays, start };
}

describe("uploadInParts", () => {
  it("sends every part, at most `concurrency` at a time, signs them in one batch and completes with the ETags in order", async () => {
    const { transport, storage, start } = setup({ concurrency: 2 });
    let recordsWhileSending: string[] = [];
    transport.onPart = async (attempt) => {
      recordsWhileSending = storage.keys();
      await tick();
      attempt.progress(attempt.size);
    };
    const { upload, progress } = start();
    await expect(uploadInParts(upload, transport.started)).resolves.toEqual({ key: KEY });

    expect(transport.partsSent().sort()).toEqual([1, 2, 3, 4, 5]);
    expect(transport.attempts.map((attempt) => attempt.size)).toEqual([10, 10, 10, 10, 5]);
    expect(transport.maxInFlight).toBe(2);
    expect(transport.signed).toEqual([{ key: KEY, partNumbers: [1, 2, 3, 4, 5] }]);
    expect(transport.completed).toEqual([{ key: KEY, parts: [1, 2, 3, 4, 5].map((partNumber) => ({ partNumber, etag: `"etag-${partNumber}"` })) }]);
    expect(progress.at(-1)).toBe(SIZE);
    // Resumable while it ran; forgotten once completed.
    expect(recordsWhileSending).toHaveLength(1);
    expect(storage.keys()).toEqual([]);
  });

  it("retries a part whose request the network dropped, with backoff, and completes", async () => {
    const { transport, delays, start } = setup();
    transport.onPart = (attempt) => {
      if (attempt.partNumber === 3 && attempt.attempt === 1) throw dropped();
      attempt.progress(attempt.size);
    };
    const { upload } = start();
    await expect(uploadInParts(upload, transport.started)).resolves.toEqual({ key: KEY });
    expect(transport.partsSent().sort()).toEqual([1, 2, 3, 3, 4, 5]);
    expect(delays).toEqual([0]);
    expect(transport.completed[0]?.parts.map((part) => part.partNumber)).toEqual([1, 2, 3, 4, 5]);
  });

  it("fails after `partRetries` retries of one part, keeps the record for a resume and completes nothing", async () => {
    const { transport, storage, delays, start } = setup({ partRetries: 2, concurrency: 1 });
    transport.onPart = (attempt) => {
      if (attempt.partNumber === 3) throw dropped();
    };
    const { upload } = start();
    await expect(uploadInParts(upload, transport.started)).rejects.toMatchObject({ code: "network_error" });
    expect(transport.partsSent()).toEqual([1, 2, 3, 3, 3]);
    expect(delays).toEqual([0, 1]);
    expect(transport.completed).toEqual([]);
    expect(transport.aborted).toEqual([]);
    expect(storage.keys()).toHaveLength(1);
  });

  it("reports progress that never goes back when a part fails midway and starts over", async () => {
    const { transport, start } = setup({ concurrency: 1 });
    transport.onPart = (attempt) => {
      if (attempt.partNumber === 2 && attempt.attempt === 1) {
        attempt.progress(8);
        throw dropped();
      }
      attempt.progress(Math.ceil(attempt.size / 2));
      attempt.progress(attempt.size);
    };
    const { upload, progress } = start();
    await uploadInParts(upload, transport.started);
    // Part 2 reached 18 before it failed; its second attempt stays below that until it passes it.
    expect(progress).toEqual([0, 5, 10, 18, 20, 25, 30, 35, 40, 43, 45]);
  });

  it("signs a part again when storage refuses its URL (403)", async () => {
    const { transport, start } = setup({ concurrency: 1 });
    transport.onPart = (attempt) => {
      if (attempt.partNumber === 2 && attempt.signature === 1) throw new UploadFailure({ code: "storage_rejected", status: 403 });
    };
    const { upload } = start();
    await expect(uploadInParts(upload, transport.started)).resolves.toEqual({ key: KEY });
    // Only the refused URL: the others still work.
    expect(transport.signed.map((request) => request.partNumbers)).toEqual([[1, 2, 3, 4, 5], [2]]);
    expect(transport.attempts.filter((attempt) => attempt.partNumber === 2).map((attempt) => attempt.signature)).toEqual([1, 2]);
  });

  it("forgets the record when the server refuses the completion for good", async () => {
    const { transport, storage, start } = setup();
    transport.completeMultipart = async () => {
      throw new UploadFailure({ code: "invalid_upload", status: 422, serverMessage: "A part is missing." });
    };
    const { upload } = start();
    await expect(uploadInParts(upload, transport.started)).rejects.toMatchObject({ code: "invalid_upload", status: 422 });
    expect(storage.keys()).toEqual([]);
  });

  it("cancel stops the parts in flight, cancels the upload on the server, forgets the record and rejects `aborted`", async () => {
    const { transport, storage, start } = setup({ concurrency: 2 });
    transport.onPart = () => new Promise<void>(() => {}); // hangs until aborted
    const { upload, controller } = start();
    const result = uploadInParts(upload, transport.started);
    await expect.poll(() => transport.attempts.length).toBe(2);
    controller.abort();
    await expect(result).rejects.toMatchObject({ code: "aborted" });
    expect(transport.attempts.every((attempt: PartAttempt) => attempt.signal.aborted)).toBe(true);
    expect(transport.attempts).toHaveLength(2);
    expect(transport.aborted).toEqual([{ key: KEY }]);
    expect(transport.completed).toEqual([]);
    expect(storage.keys()).toEqual([]);
  });
});

describe("resumeInParts", () => {
  /** Parts 1 and 2 get through, then the network goes down for good: the upload fails, its record stays. */
  async function interrupted() {
    const context = setup({ partRetries: 0, concurrency: 1 });
    context.transport.onPart = (attempt) => {
      if (attempt.partNumber >= 3) throw dropped();
    };
    await expect(uploadInParts(context.start().upload, context.transport.started)).rejects.toMatchObject({ code: "network_error" });
    context.transport.onPart = (attempt) => attempt.progress(attempt.size);
    context.transport.attempts.length = 0;
    return context;
  }

  it("sends only the parts storage does not hold (a part cut short again) and completes with every ETag", async () => {
    const { transport, storage, start } = await interrupted();
    // A crash left the last part short in storage.
    transport.held.set(5, { size: 3, etag: '"etag-short"' });
    const { upload, progress } = start();
    const record = findResumable(upload);
    expect(record).toMatchObject({ key: KEY, endpoint: "/async-uploads", plan: { partSize: PART_SIZE, partCount: 5 } });

    await expect(resumeInParts(upload, record!)).resolves.toEqual({ key: KEY });
    expect(transport.listed).toEqual([{ key: KEY }]);
    expect(transport.partsSent()).toEqual([3, 4, 5]);
    expect(progress[0]).toBe(20);
    expect(progress.at(-1)).toBe(SIZE);
    expect(transport.completed[0]?.parts).toEqual([1, 2, 3, 4, 5].map((partNumber) => ({ partNumber, etag: `"etag-${partNumber}"` })));
    expect(storage.keys()).toEqual([]);
  });

  it("answers null and forgets the record when the server no longer has the upload", async () => {
    const { transport, storage, start } = await interrupted();
    transport.listParts = async () => {
      throw new UploadFailure({ code: "not_found", status: 404 });
    };
    const { upload } = start();
    await expect(resumeInParts(upload, findResumable(upload)!)).resolves.toBeNull();
    expect(transport.attempts).toEqual([]);
    expect(storage.keys()).toEqual([]);
    expect(findResumable(upload)).toBeNull();
  });

  it("keeps the record when the network fails while asking, so a later try can resume", async () => {
    const { transport, storage, start } = await interrupted();
    transport.listParts = async () => {
      throw dropped();
    };
    const { upload } = start();
    await expect(resumeInParts(upload, findResumable(upload)!)).rejects.toMatchObject({ code: "network_error" });
    expect(storage.keys()).toHaveLength(1);
  });
});

describe("findResumable", () => {
  /** An upload that failed with its record kept, as after a crash. */
  async function leftBehind() {
    const context = setup({ partRetries: 0 });
    context.transport.onPart = () => {
      throw dropped();
    };
    const { upload } = context.start();
    await expect(uploadInParts(upload, context.transport.started)).rejects.toMatchObject({ code: "network_error" });
    context.storage.setItem("another-app", "kept");
    return { ...context, upload };
  }

  it("offers the record only for the same file, field and endpoint", async () => {
    const { storage, upload } = await leftBehind();
    expect(findResumable({ ...upload, fieldId: "other" })).toBeNull();
    expect(findResumable({ ...upload, file: new File([new Uint8Array(SIZE)], "film.bin", { lastModified: 1 }) })).toBeNull();
    expect(storage.keys()).toHaveLength(2);
    expect(findResumable(upload)).toMatchObject({ key: KEY });
    // A record is for the routes it was started on.
    expect(findResumable({ ...upload, endpoint: "/elsewhere" })).toBeNull();
    expect(storage.keys()).toEqual(["another-app"]);
  });

  it("clears the expired and unreadable records of other files too, and nothing that is not ours", async () => {
    const { storage, upload } = await leftBehind();
    const own = storage.keys().find((key) => key.startsWith("async-uploads:"))!;
    const plan = { uploadId: "u", partSize: 1, partCount: 1 };
    const record = (expiresAt: number) => JSON.stringify({ endpoint: "/async-uploads", key: "async-temp/x", plan, expiresAt: new Date(expiresAt).toISOString() });
    storage.setItem('async-uploads:multipart:["f","old.bin",1,1]', record(Date.now() - 1000));
    storage.setItem('async-uploads:multipart:["f","later.bin",1,1]', record(Date.now() + 3600_000));
    storage.setItem('async-uploads:multipart:["f","garbled.bin",1,1]', "{not json");
    storage.setItem("async-uploads:multipart:no-plan", JSON.stringify({ endpoint: "/async-uploads", key: "k", expiresAt: "2999-01-01T00:00:00Z" }));
    expect(findResumable({ ...upload, fieldId: "other" })).toBeNull();
    expect(storage.keys().sort()).toEqual(["another-app", 'async-uploads:multipart:["f","later.bin",1,1]', own].sort());
  });

  it("neither offers nor keeps a record that expires within the minute", async () => {
    const { storage, upload } = await leftBehind();
    const [id] = storage.keys().filter((key) => key.startsWith("async-uploads:"));
    const record = JSON.parse(storage.getItem(id!)!) as { expiresAt: string };
    storage.setItem(id!, JSON.stringify({ ...record, expiresAt: new Date(Date.now() + 30_000).toISOString() }));
    expect(findResumable(upload)).toBeNull();
    expect(storage.keys()).toEqual(["another-app"]);
  });
});
