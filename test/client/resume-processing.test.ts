import { describe, expect, it } from "vitest";
import { findResumable, resumeInParts, uploadInParts, type MultipartUploadOptions } from "../../client/async-file-input/multipart-upload";
import { UploadFailure } from "../../client/async-file-input/upload-failure";
import { UploadEngine, type Upload } from "../../client/async-file-input/upload-engine";
import type { UploadProcessingPlan } from "../../shared/processing";
import { FakeTransport, MemoryStorage } from "./fake-transport";

/**
 * The processing plan of `upload-url` (fields with processing steps) reaches the element with the finished
 * upload, also when a chunked upload is resumed after a reload: the plan is kept in the resume record.
 */
const KEY = "async-temp/u1/scan.bin";
const PLAN: UploadProcessingPlan = {
  fileId: "3f1c2a4e-0000-4000-8000-000000000001",
  topicToken: "token-1",
  steps: [
    { name: "verify", label: "Checking" },
    { name: "scan", label: "Scanning for viruses" },
  ],
};
const file = new File([new Uint8Array(45)], "scan.bin", { type: "application/octet-stream", lastModified: 1_700_000_000_000 });

function options(transport: FakeTransport, storage: MemoryStorage): MultipartUploadOptions {
  return { endpoint: "/async-uploads", fieldId: "f", file, signal: new AbortController().signal, transport, storage, onProgress: () => {}, retryDelay: () => 0, partRetries: 0, concurrency: 1 };
}

describe("processing plan of a chunked upload", () => {
  it("is kept in the resume record, so a resumed upload is checked too", async () => {
    const transport = new FakeTransport({ key: KEY, partSize: 10, partCount: 5 });
    const storage = new MemoryStorage();
    transport.onPart = (attempt) => {
      if (attempt.partNumber === 3) throw new UploadFailure({ code: "network_error", transient: true });
    };
    await expect(uploadInParts(options(transport, storage), { ...transport.started, processing: PLAN })).rejects.toMatchObject({ code: "network_error" });

    const record = findResumable(options(transport, storage));
    expect(record?.processing).toEqual(PLAN);
    transport.onPart = (attempt) => attempt.progress(attempt.size);
    await expect(resumeInParts(options(transport, storage), record!)).resolves.toEqual({ key: KEY });
  });

  it("a record written without a plan (a field without steps, an older version) still resumes; a damaged plan does not", async () => {
    const transport = new FakeTransport({ key: KEY, partSize: 10, partCount: 5 });
    const storage = new MemoryStorage();
    transport.onPart = (attempt) => {
      if (attempt.partNumber === 3) throw new UploadFailure({ code: "network_error", transient: true });
    };
    await expect(uploadInParts(options(transport, storage), transport.started)).rejects.toMatchObject({ code: "network_error" });
    const id = storage.keys()[0]!;
    expect(findResumable(options(transport, storage))?.processing).toBeUndefined();

    const damaged = { ...JSON.parse(storage.getItem(id)!), processing: { fileId: "x", steps: "all" } };
    storage.setItem(id, JSON.stringify(damaged));
    expect(findResumable(options(transport, storage))).toBeNull();
  });

  it("the engine hands the plan over with the finished upload, and none for a field without steps", async () => {
    const withPlan = new FakeTransport({ key: KEY, partSize: 10, partCount: 5 });
    withPlan.requestTarget = async () => ({ key: KEY, upload: { method: "PUT", url: "https://storage.test/k", headers: {} }, expiresAt: new Date().toISOString(), processing: PLAN });
    const without = new FakeTransport({ key: KEY, partSize: 10, partCount: 5 });
    without.requestTarget = async () => ({ key: KEY, upload: { method: "PUT", url: "https://storage.test/k", headers: {} }, expiresAt: new Date().toISOString() });
    const finished = (transport: FakeTransport) =>
      new Promise<Upload>((resolve) => {
        const engine = new UploadEngine({ transport, onChange: (upload) => upload.status === "done" && resolve(upload) });
        engine.add(new File(["small"], "small.txt", { type: "text/plain" }), { endpoint: "/async-uploads", fieldId: "f" });
      });
    expect((await finished(withPlan)).processing).toEqual(PLAN);
    expect((await finished(without)).processing).toBeUndefined();
  });
});
