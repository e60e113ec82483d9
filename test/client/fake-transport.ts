import type {
  CompleteMultipartResponse,
  ListPartsResponse,
  MultipartUploadUrlResponse,
  PartTarget,
  SignPartsResponse,
} from "../../shared/multipart";
import type { CompleteMultipartRequest, MultipartKeyRequest, SignPartsRequest } from "../../shared/multipart-schemas";
import type { UploadTarget, UploadUrlRequest, UploadUrlResponse } from "../../shared/schemas";
import type { Transport } from "../../client/async-file-input/transport";
import { UploadFailure } from "../../client/async-file-input/upload-failure";

/** One attempt at sending a part, as the fake storage sees it. */
export interface PartAttempt {
  partNumber: number;
  /** 1 for the first attempt at this part, 2 for its first retry, … */
  attempt: number;
  /** The bytes' length. */
  size: number;
  /** The signature the URL carried (which `sign-parts` call made it). */
  signature: number;
  signal: AbortSignal;
  progress(loaded: number): void;
}

/**
 * Our server and a storage in memory, behind the `Transport` the client uses: it signs URLs, holds
 * parts, lists and completes them, and answers at once. A test decides what happens to each part
 * attempt through `onPart` (resolve: stored; reject: that failure; a promise that never settles: a
 * request that hangs until aborted) and reads what was sent from the logs.
 */
export class FakeTransport implements Transport {
  /** What `upload-url` answers: a chunked upload. */
  readonly started: MultipartUploadUrlResponse;
  /** Parts storage holds, by number. */
  readonly held = new Map<number, { size: number; etag: string }>();
  readonly attempts: PartAttempt[] = [];
  readonly signed: SignPartsRequest[] = [];
  readonly listed: MultipartKeyRequest[] = [];
  readonly completed: CompleteMultipartRequest[] = [];
  readonly aborted: MultipartKeyRequest[] = [];
  /** How long signed URLs work. */
  urlLifetimeMs = 15 * 60_000;
  /** Most part attempts in flight at once. */
  maxInFlight = 0;
  /** Decides one part attempt; by default it reports all its bytes and is stored. */
  onPart: (attempt: PartAttempt) => void | Promise<void> = (attempt) => attempt.progress(attempt.size);
  #inFlight = 0;

  constructor(readonly plan: { key: string; partSize: number; partCount: number }) {
    const expiresAt = new Date(Date.now() + 24 * 3600_000).toISOString();
    this.started = { key: plan.key, multipart: { uploadId: "upload-1", partSize: plan.partSize, partCount: plan.partCount }, expiresAt };
  }

  async requestTarget(_endpoint: string, _request: UploadUrlRequest, signal: AbortSignal): Promise<UploadUrlResponse | MultipartUploadUrlResponse> {
    if (signal.aborted) throw new UploadFailure({ code: "aborted" });
    return this.started;
  }

  async send(_target: UploadTarget, _file: Blob, _contentType: string, signal: AbortSignal, _onProgress: (loaded: number) => void): Promise<void> {
    if (signal.aborted) throw new UploadFailure({ code: "aborted" });
  }

  async signParts(_endpoint: string, request: SignPartsRequest, signal: AbortSignal): Promise<SignPartsResponse> {
    if (signal.aborted) throw new UploadFailure({ code: "aborted" });
    this.signed.push(request);
    const signature = this.signed.length;
    const parts = request.partNumbers.map(
      (partNumber): PartTarget => ({ partNumber, method: "PUT", url: `https://storage.test/${request.key}?part=${partNumber}&sig=${signature}`, headers: {} }),
    );
    return { parts, expiresAt: new Date(Date.now() + this.urlLifetimeMs).toISOString() };
  }

  async listParts(_endpoint: string, request: MultipartKeyRequest, signal: AbortSignal): Promise<ListPartsResponse> {
    if (signal.aborted) throw new UploadFailure({ code: "aborted" });
    this.listed.push(request);
    const parts = [...this.held].map(([partNumber, part]) => ({ partNumber, ...part }));
    return { parts, partSize: this.plan.partSize, partCount: this.plan.partCount, expiresAt: this.started.expiresAt };
  }

  async completeMultipart(_endpoint: string, request: CompleteMultipartRequest, signal: AbortSignal): Promise<CompleteMultipartResponse> {
    if (signal.aborted) throw new UploadFailure({ code: "aborted" });
    this.completed.push(request);
    return { key: request.key };
  }

  async abortMultipart(_endpoint: string, request: MultipartKeyRequest): Promise<void> {
    this.aborted.push(request);
  }

  async sendPart(target: PartTarget, part: Blob, signal: AbortSignal, onProgress: (loaded: number) => void): Promise<string | null> {
    if (signal.aborted) throw new UploadFailure({ code: "aborted" });
    const url = new URL(target.url);
    const partNumber = Number(url.searchParams.get("part"));
    const attempt: PartAttempt = {
      partNumber,
      attempt: this.attempts.filter((earlier) => earlier.partNumber === partNumber).length + 1,
      size: part.size,
      signature: Number(url.searchParams.get("sig")),
      signal,
      progress: onProgress,
    };
    this.attempts.push(attempt);
    this.maxInFlight = Math.max(this.maxInFlight, ++this.#inFlight);
    try {
      await new Promise<void>((resolve, reject) => {
        signal.addEventListener("abort", () => reject(new UploadFailure({ code: "aborted" })), { once: true });
        Promise.resolve(this.onPart(attempt)).then(resolve, reject);
      });
    } finally {
      this.#inFlight--;
    }
    const etag = `"etag-${partNumber}"`;
    this.held.set(partNumber, { size: part.size, etag });
    return etag;
  }

  /** The part numbers of every attempt, in the order they were sent. */
  partsSent(): number[] {
    return this.attempts.map((attempt) => attempt.partNumber);
  }
}

/** A `Storage` in memory (Node has no `localStorage`). */
export class MemoryStorage implements Storage {
  readonly #items = new Map<string, string>();
  get length(): number {
    return this.#items.size;
  }
  key(index: number): string | null {
    return [...this.#items.keys()][index] ?? null;
  }
  getItem(key: string): string | null {
    return this.#items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.#items.set(key, String(value));
  }
  removeItem(key: string): void {
    this.#items.delete(key);
  }
  clear(): void {
    this.#items.clear();
  }
  keys(): string[] {
    return [...this.#items.keys()];
  }
}
