import { describe, expect, it } from "vitest";
import type { MultipartUploadUrlResponse } from "../../shared/multipart";
import type { UploadTarget, UploadUrlRequest, UploadUrlResponse } from "../../shared/schemas";
import type { Transport } from "../../client/async-file-input/transport";
import { UploadFailure } from "../../client/async-file-input/upload-failure";
import { UploadEngine, type Upload } from "../../client/async-file-input/upload-engine";
import { FakeTransport } from "./fake-transport";

type Target = UploadUrlResponse | MultipartUploadUrlResponse;

/** A transport that answers at once and records which requests were made, one by one or together. */
class BatchingTransport extends FakeTransport implements Transport {
  singles: UploadUrlRequest[] = [];
  batches: UploadUrlRequest[][] = [];
  sent: string[] = [];
  /** What a batch answers; by default a target per file. */
  answerBatch: (requests: UploadUrlRequest[]) => Promise<Target[]> = async (requests) => requests.map((request) => this.target(request));

  constructor() {
    super({ key: "async-temp/big/film.bin", partSize: 2, partCount: 3 });
  }

  target(request: UploadUrlRequest): UploadUrlResponse {
    const key = `async-temp/${request.filename}`;
    return { key, upload: { method: "PUT", url: `https://storage.test/${key}`, headers: {} }, expiresAt: new Date().toISOString() };
  }

  override async requestTarget(_endpoint: string, request: UploadUrlRequest): Promise<Target> {
    this.singles.push(request);
    if (request.filename.startsWith("bad")) throw new UploadFailure({ code: "type_not_allowed", status: 415, serverMessage: "not accepted" });
    return this.target(request);
  }

  async requestTargets(_endpoint: string, requests: UploadUrlRequest[]): Promise<Target[]> {
    this.batches.push(requests);
    return this.answerBatch(requests);
  }

  override async send(target: UploadTarget): Promise<void> {
    this.sent.push(target.url);
  }
}

const settings = { endpoint: "/async-uploads", fieldId: "docs.attachment" };
const file = (name: string) => new File(["x".repeat(10)], name, { type: "application/pdf" });

function engineWith(transport: Transport) {
  const finished = new Map<string, Upload>();
  let settle!: () => void;
  let expected = 0;
  const all = new Promise<void>((resolve) => (settle = resolve));
  const engine = new UploadEngine({
    transport,
    retryDelay: () => 0,
    onChange: (upload) => {
      if (upload.status === "done" || upload.status === "failed") finished.set(upload.id, { ...upload });
      if (finished.size === expected) settle();
    },
  });
  return {
    engine,
    add(names: string[]) {
      expected += names.length;
      return names.map((name) => engine.add(file(name), settings));
    },
    finished: () => all.then(() => [...finished.values()]),
  };
}

describe("upload engine: files chosen at once ask for their targets together", () => {
  it("asks once for all files added in the same task, and uploads each to its own target", async () => {
    const transport = new BatchingTransport();
    const run = engineWith(transport);
    run.add(["a.pdf", "b.pdf", "c.pdf", "d.pdf", "e.pdf"]);
    const done = await run.finished();
    expect(transport.batches.map((batch) => batch.map((request) => request.filename))).toEqual([["a.pdf", "b.pdf", "c.pdf", "d.pdf", "e.pdf"]]);
    expect(transport.singles).toEqual([]);
    expect(done.map((upload) => upload.key).sort()).toEqual(["a.pdf", "b.pdf", "c.pdf", "d.pdf", "e.pdf"].map((name) => `async-temp/${name}`));
    expect(transport.sent).toHaveLength(5);
  });

  it("asks in batches of at most 100", async () => {
    const transport = new BatchingTransport();
    const run = engineWith(transport);
    run.add(Array.from({ length: 230 }, (_, i) => `f${i}.pdf`));
    await run.finished();
    expect(transport.batches.map((batch) => batch.length)).toEqual([100, 100, 30]);
    expect(transport.singles).toEqual([]);
  });

  it("falls back to one request per file when the batch is refused, so each file gets its own answer", async () => {
    const transport = new BatchingTransport();
    transport.answerBatch = async () => {
      throw new UploadFailure({ code: "type_not_allowed", status: 415 });
    };
    const run = engineWith(transport);
    run.add(["a.pdf", "bad.exe", "c.pdf"]);
    const done = await run.finished();
    expect(transport.batches).toHaveLength(1);
    expect(transport.singles.map((request) => request.filename).sort()).toEqual(["a.pdf", "bad.exe", "c.pdf"]);
    const byName = new Map(done.map((upload) => [upload.file.name, upload]));
    expect(byName.get("a.pdf")?.status).toBe("done");
    expect(byName.get("c.pdf")?.status).toBe("done");
    expect(byName.get("bad.exe")?.failure?.code).toBe("type_not_allowed");
  });

  it("frees the target of a file canceled before it started", async () => {
    const transport = new BatchingTransport();
    const engine = new UploadEngine({ transport, concurrency: 1, onChange: () => {} });
    const uploads = ["a.pdf", "b.pdf", "c.pdf"].map((name) => engine.add(file(name), settings));
    await Promise.resolve();
    engine.cancel(uploads[2]!.id);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(transport.aborted).toEqual([{ key: "async-temp/c.pdf" }]);
  });

  it("a single file asks on its own", async () => {
    const transport = new BatchingTransport();
    const run = engineWith(transport);
    run.add(["only.pdf"]);
    await run.finished();
    expect(transport.batches).toEqual([]);
    expect(transport.singles.map((request) => request.filename)).toEqual(["only.pdf"]);
  });
});
