import { describe, expect, it } from "vitest";
import type { MultipartUploadUrlResponse } from "../../shared/multipart";
import type { UploadTarget, UploadUrlRequest, UploadUrlResponse } from "../../shared/schemas";
import type { Transport } from "../../client/async-file-input/transport";
import { UploadFailure } from "../../client/async-file-input/upload-failure";
import { UploadEngine, type Upload, type UploadStatus } from "../../client/async-file-input/upload-engine";
import { FakeTransport } from "./fake-transport";

/**
 * The engine's state machine with a scripted transport (the browser's fetch and XHR are exercised by
 * the e2e tests): each call to `requestTarget` or `send` waits until the test settles it; a chunked
 * upload's calls go to the fake storage (test/client/multipart-upload.test.ts tests them).
 */
class ScriptedTransport extends FakeTransport implements Transport {
  requests: Array<{ request: UploadUrlRequest; signal: AbortSignal; settle(result: UploadUrlResponse | MultipartUploadUrlResponse | UploadFailure): void }> = [];
  sends: Array<{ target: UploadTarget; contentType: string; signal: AbortSignal; progress(loaded: number): void; settle(error?: UploadFailure): void }> = [];
  issued = 0;

  constructor() {
    super({ key: "async-temp/big/film.bin", partSize: 2, partCount: 3 });
  }

  override requestTarget(_endpoint: string, request: UploadUrlRequest, signal: AbortSignal): Promise<UploadUrlResponse | MultipartUploadUrlResponse> {
    return new Promise((resolve, reject) => {
      this.requests.push({ request, signal, settle: (result) => (result instanceof UploadFailure ? reject(result) : resolve(result)) });
    });
  }

  override send(target: UploadTarget, _file: Blob, contentType: string, signal: AbortSignal, onProgress: (loaded: number) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      signal.addEventListener("abort", () => reject(new UploadFailure({ code: "aborted" })));
      this.sends.push({ target, contentType, signal, progress: onProgress, settle: (error) => (error ? reject(error) : resolve()) });
    });
  }

  target(): UploadUrlResponse {
    const key = `async-temp/k${++this.issued}`;
    return { key, upload: { method: "PUT", url: `https://storage.test/${key}`, headers: {} }, expiresAt: new Date().toISOString() };
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const settings = { endpoint: "/async-uploads", fieldId: "f" };

function setup(options: { concurrency?: number; networkRetries?: number } = {}) {
  const transport = new ScriptedTransport();
  const changes: Array<[string, UploadStatus, UploadStatus]> = [];
  const delays: number[] = [];
  const engine = new UploadEngine({
    transport,
    ...options,
    retryDelay: (retry) => {
      delays.push(retry);
      return 0;
    },
    onChange: (upload: Upload, previous) => changes.push([upload.id, previous, upload.status]),
  });
  const file = (name = "a.txt", type = "text/plain") => new File(["hello"], name, { type });
  return { transport, engine, changes, delays, file };
}

describe("UploadEngine", () => {
  it("asks for a target, sends the file, and ends done with the key", async () => {
    const { transport, engine, file } = setup();
    const upload = engine.add(file("a.bin", ""), { ...settings, instanceId: "r1" });
    expect(upload.status).toBe("queued");
    await tick();
    expect(transport.requests[0]!.request).toEqual({
      fieldId: "f", filename: "a.bin", contentType: "application/octet-stream", size: 5, instanceId: "r1", multipart: true,
    });
    const target = transport.target();
    transport.requests[0]!.settle(target);
    await tick();
    expect(upload.status).toBe("uploading");
    expect(transport.sends[0]!.contentType).toBe("application/octet-stream");
    transport.sends[0]!.progress(3);
    expect(upload.loaded).toBe(3);
    transport.sends[0]!.settle();
    await tick();
    expect(upload).toMatchObject({ status: "done", loaded: 5, key: target.key });
  });

  it("runs at most `concurrency` uploads at once and starts the next when one ends", async () => {
    const { transport, engine, file } = setup({ concurrency: 2 });
    const uploads = [1, 2, 3].map((n) => engine.add(file(`${n}.txt`), settings));
    await tick();
    expect(transport.requests).toHaveLength(2);
    expect(uploads.map((upload) => upload.status)).toEqual(["requesting", "requesting", "queued"]);
    transport.requests[0]!.settle(new UploadFailure({ code: "forbidden", status: 403 }));
    await tick();
    expect(transport.requests).toHaveLength(3);
    expect(uploads[0]!.status).toBe("failed");
  });

  it("gets a fresh target once after a 403 from storage, and fails on the second", async () => {
    const { transport, engine, file } = setup();
    const upload = engine.add(file(), settings);
    for (let attempt = 0; attempt < 2; attempt++) {
      await tick();
      transport.requests[attempt]!.settle(transport.target());
      await tick();
      transport.sends[attempt]!.settle(new UploadFailure({ code: "storage_rejected", status: 403 }));
    }
    await tick();
    expect(transport.requests).toHaveLength(2);
    expect(upload.status).toBe("failed");
    expect(upload.failure).toMatchObject({ code: "storage_rejected", status: 403 });
  });

  it("retries transient failures a bounded number of times with growing delays, then fails; retry() starts over", async () => {
    const { transport, engine, file, delays, changes } = setup({ networkRetries: 2 });
    const upload = engine.add(file(), settings);
    for (let attempt = 0; attempt < 3; attempt++) {
      await tick();
      transport.requests[attempt]!.settle(new UploadFailure({ code: "network_error", transient: true }));
      await tick();
    }
    expect(delays).toEqual([0, 1]);
    expect(upload.status).toBe("failed");
    expect(changes.filter(([, , status]) => status === "retrying")).toHaveLength(2);

    engine.retry(upload.id);
    expect(upload.status).toBe("queued");
    await tick();
    transport.requests[3]!.settle(transport.target());
    await tick();
    transport.sends[0]!.settle();
    await tick();
    expect(upload.status).toBe("done");
  });

  it("does not retry a refusal from our server", async () => {
    const { transport, engine, file } = setup();
    const upload = engine.add(file(), settings);
    await tick();
    transport.requests[0]!.settle(new UploadFailure({ code: "type_not_allowed", status: 415, serverMessage: "No." }));
    await tick();
    expect(transport.requests).toHaveLength(1);
    expect(upload.failure).toMatchObject({ code: "type_not_allowed", serverMessage: "No." });
  });

  it("sends a file the server wants in parts through the same transport, and ends done with the key", async () => {
    const { transport, engine } = setup();
    const loaded: number[] = [];
    const upload = engine.add(new File(["films"], "film.bin"), settings);
    await tick();
    transport.onPart = (attempt) => {
      attempt.progress(attempt.size);
      loaded.push(upload.loaded);
    };
    transport.requests[0]!.settle(transport.started);
    await expect.poll(() => upload.status).toBe("done");
    expect(upload).toMatchObject({ key: transport.started.key, loaded: 5 });
    expect(transport.partsSent().sort()).toEqual([1, 2, 3]);
    expect(loaded.sort()).toEqual([2, 4, 5]);
    expect(transport.completed).toHaveLength(1);
    expect(transport.sends).toEqual([]);
  });

  it("cancel aborts the request, and a late answer to it is ignored", async () => {
    const { transport, engine, file, changes } = setup();
    const upload = engine.add(file(), settings);
    await tick();
    const pending = transport.requests[0]!;
    engine.cancel(upload.id);
    expect(pending.signal.aborted).toBe(true);
    expect(upload.status).toBe("canceled");
    const seen = changes.length;
    pending.settle(transport.target());
    await tick();
    expect(upload.status).toBe("canceled");
    expect(transport.sends).toHaveLength(0);
    expect(changes).toHaveLength(seen);
  });

  it("cancel during a send aborts it and frees the slot for a queued upload", async () => {
    const { transport, engine, file } = setup({ concurrency: 1 });
    const first = engine.add(file("1.txt"), settings);
    const second = engine.add(file("2.txt"), settings);
    await tick();
    transport.requests[0]!.settle(transport.target());
    await tick();
    engine.cancel(first.id);
    expect(transport.sends[0]!.signal.aborted).toBe(true);
    await tick();
    expect(second.status).toBe("requesting");
  });
});
