import {
  MAX_SIGN_PARTS_BATCH,
  partRange,
  type CompleteMultipartResponse,
  type ListPartsResponse,
  type MultipartPlan,
  type MultipartUploadUrlResponse,
  type PartTarget,
  type SignPartsResponse,
} from "../../shared/multipart.js";
import { UploadFailure } from "./upload-failure.js";
import { sleep } from "../../shared/sleep.js";

/**
 * Large files in parts (`shared/multipart.ts`): a bounded number of parts in flight, each retried with
 * backoff, part URLs signed in batches on demand and signed again when storage refuses one (expired),
 * progress as confirmed bytes that never goes back, and a record in `localStorage` so that the same
 * file chosen again after a reload or a crash continues where it stopped.
 *
 * The engine calls `uploadInParts` when `upload-url` answers with `multipart`, or `resumeInParts`
 * with a record `findResumable` found for the chosen file.
 */

/** What is kept in `localStorage` per file and field, until the upload completes or expires. */
export interface ResumeRecord {
  endpoint: string;
  key: string;
  plan: MultipartPlan;
  /** ISO time after which the upload can no longer be continued (the server's). */
  expiresAt: string;
}

export interface MultipartUploadOptions {
  /** Where the routes are mounted (the component's `endpoint`). */
  endpoint: string;
  fieldId: string;
  file: File;
  /** Canceling stops every request and cancels the upload on the server (`multipart/abort`). */
  signal: AbortSignal;
  /** Confirmed bytes plus the bytes of parts in flight; never decreases. */
  onProgress?(loaded: number): void;
  /** Parts sent at the same time. @default 4 */
  concurrency?: number;
  /** Automatic retries of one part after a network failure or a 5xx. @default 5 */
  partRetries?: number;
  /** Pause before retry number `retry` (0-based) of a part, in ms. @default 500 ms, doubling up to 15 s, ±20 % */
  retryDelay?(retry: number): number;
  /** Where resume records live. @default window.localStorage (none when it is unavailable) */
  storage?: Storage | null;
}

const RECORD_PREFIX = "async-uploads:multipart:";
/** A URL about to expire is signed again rather than sent and refused. */
const EXPIRY_MARGIN_MS = 30_000;

/** Starts sending a new chunked upload (the `upload-url` answer) and resolves with the key for the form. */
export function uploadInParts(options: MultipartUploadOptions, started: MultipartUploadUrlResponse): Promise<{ key: string }> {
  const record: ResumeRecord = { endpoint: options.endpoint, key: started.key, plan: started.multipart, expiresAt: started.expiresAt };
  writeRecord(options, record);
  return run(options, record, new Set());
}

/**
 * Continues an upload from a resume record: asks the server which parts storage holds and sends only
 * the others. Resolves null (and forgets the record) when the server can no longer continue it
 * (completed, canceled, expired, lost by storage): then start anew.
 */
export async function resumeInParts(options: MultipartUploadOptions, record: ResumeRecord): Promise<{ key: string } | null> {
  let listed: ListPartsResponse;
  try {
    listed = await postJson<ListPartsResponse>(options.endpoint, "/multipart/list-parts", { key: record.key }, options.signal);
  } catch (error) {
    if (!(error instanceof UploadFailure) || error.transient || error.code === "aborted") throw error;
    forgetResumable(options);
    return null;
  }
  if (listed.partSize !== record.plan.partSize || listed.partCount !== record.plan.partCount) {
    forgetResumable(options);
    return null;
  }
  const held = listed.parts.filter((part) => part.size === partRange(part.partNumber, listed.partSize, options.file.size).size);
  const done = new Set(held.map((part) => part.partNumber));
  return run(options, record, done, new Map(held.map((part) => [part.partNumber, part.etag])));
}

/** The resume record of this file for this field, when an unexpired one exists (same name, size and last-modified). */
export function findResumable(options: Pick<MultipartUploadOptions, "fieldId" | "file" | "endpoint" | "storage">): ResumeRecord | null {
  const storage = storageOf(options);
  const id = recordId(options);
  const text = storage?.getItem(id);
  if (!storage || !text) return null;
  let record: ResumeRecord | null = null;
  try {
    const parsed = JSON.parse(text) as ResumeRecord;
    if (typeof parsed.key === "string" && parsed.endpoint === options.endpoint && parsed.plan && Date.parse(parsed.expiresAt) > Date.now() + 60_000) {
      record = parsed;
    }
  } catch {
    record = null;
  }
  if (!record) storage.removeItem(id);
  return record;
}

/** Forgets the file's resume record (after completion, on cancel, or when the server no longer has it). */
export function forgetResumable(options: Pick<MultipartUploadOptions, "fieldId" | "file" | "storage">): void {
  storageOf(options)?.removeItem(recordId(options));
}

/** Removes expired records of every file (call once per page; records also expire when looked up). */
export function pruneResumables(storage: Storage | null = defaultStorage()): void {
  if (!storage) return;
  for (let i = storage.length - 1; i >= 0; i--) {
    const id = storage.key(i);
    if (!id?.startsWith(RECORD_PREFIX)) continue;
    const expiresAt = Date.parse((JSON.parse(storage.getItem(id) ?? "{}") as Partial<ResumeRecord>).expiresAt ?? "");
    if (!(expiresAt > Date.now())) storage.removeItem(id);
  }
}

/** Sends every part not in `done`, then completes. */
async function run(
  options: MultipartUploadOptions,
  record: ResumeRecord,
  done: Set<number>,
  etags = new Map<number, string | undefined>(),
): Promise<{ key: string }> {
  const { file, signal, endpoint } = options;
  const { partSize, partCount } = record.plan;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const partRetries = options.partRetries ?? 5;
  const retryDelay = options.retryDelay ?? ((retry: number) => Math.min(15_000, 500 * 2 ** retry) * (0.8 + Math.random() * 0.4));
  const internal = new AbortController();
  const onAbort = () => internal.abort();
  signal.addEventListener("abort", onAbort, { once: true });

  // Progress: confirmed parts, plus what parts in flight report; the reported value only grows, so a
  // part that fails and starts over makes the bar wait, never jump back.
  const inFlight = new Map<number, number>();
  let confirmed = [...done].reduce((sum, n) => sum + partRange(n, partSize, file.size).size, 0);
  let reported = 0;
  const report = () => {
    let loaded = confirmed;
    for (const bytes of inFlight.values()) loaded += bytes;
    const next = Math.min(file.size, Math.max(reported, loaded));
    if (next !== reported || reported === 0) options.onProgress?.((reported = next));
  };
  report();

  const queue = Array.from({ length: partCount }, (_, i) => i + 1).filter((n) => !done.has(n));
  const urls = new Map<number, { target: PartTarget; expiresAt: number }>();
  let signing: Promise<void> | null = null;
  const usable = (entry: { expiresAt: number } | undefined) => entry !== undefined && entry.expiresAt - EXPIRY_MARGIN_MS > Date.now();
  /** A usable URL for the part: signed with the next parts of the queue in one batch when missing or about to expire. */
  const urlFor = async (partNumber: number): Promise<PartTarget> => {
    if (usable(urls.get(partNumber))) return urls.get(partNumber)!.target;
    if (!signing) {
      const wanted = [partNumber, ...queue.filter((n) => !usable(urls.get(n)))].slice(0, MAX_SIGN_PARTS_BATCH);
      signing = postJson<SignPartsResponse>(endpoint, "/multipart/sign-parts", { key: record.key, partNumbers: wanted }, internal.signal)
        .then((signed) => {
          const expiresAt = Date.parse(signed.expiresAt);
          for (const target of signed.parts) urls.set(target.partNumber, { target, expiresAt });
        })
        .finally(() => (signing = null));
    }
    await signing;
    // Another worker's batch may not have held this part: then it is this worker's turn to sign.
    const entry = urls.get(partNumber);
    if (!entry) return urlFor(partNumber);
    // Close to the upload's own end the server signs for less than the margin; use what there is.
    if (entry.expiresAt <= Date.now()) throw new UploadFailure({ code: "invalid_upload", serverMessage: "The upload has expired." });
    return entry.target;
  };

  const sendOne = async (partNumber: number): Promise<void> => {
    const { offset, size } = partRange(partNumber, partSize, file.size);
    let retries = 0;
    let resigned = 0;
    for (;;) {
      try {
        const target = await urlFor(partNumber);
        const etag = await putPart(target, file.slice(offset, offset + size), internal.signal, (loaded) => {
          inFlight.set(partNumber, Math.min(loaded, size));
          report();
        });
        inFlight.delete(partNumber);
        etags.set(partNumber, etag ?? undefined);
        confirmed += size;
        report();
        return;
      } catch (error) {
        inFlight.delete(partNumber);
        const failure = error instanceof UploadFailure ? error : new UploadFailure({ code: "network_error", transient: true, cause: error });
        if (failure.code === "aborted") throw failure;
        // Refused by storage: most likely an expired signature. A fresh URL, a couple of times.
        if (failure.status === 403 && resigned < 2) {
          resigned++;
          urls.delete(partNumber);
          continue;
        }
        if (failure.transient && retries < partRetries) {
          await sleep(retryDelay(retries++), internal.signal);
          if (internal.signal.aborted) throw new UploadFailure({ code: "aborted" });
          continue;
        }
        throw failure;
      }
    }
  };

  try {
    let failure: unknown;
    const worker = async () => {
      while (failure === undefined && queue.length > 0) {
        const partNumber = queue.shift()!;
        try {
          await sendOne(partNumber);
        } catch (error) {
          failure ??= error;
          internal.abort(); // the others stop too: the upload has failed as a whole
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
    if (signal.aborted) throw new UploadFailure({ code: "aborted" });
    if (failure !== undefined) throw failure;

    const parts = Array.from({ length: partCount }, (_, i) => i + 1).map((partNumber) => {
      const etag = etags.get(partNumber);
      return etag ? { partNumber, etag } : { partNumber };
    });
    const result = await postJson<CompleteMultipartResponse>(endpoint, "/multipart/complete", { key: record.key, parts }, internal.signal);
    forgetResumable(options);
    return { key: result.key };
  } catch (error) {
    if (signal.aborted) {
      // Canceled by the person: the server discards the parts (fire and forget; cleanup is the backstop).
      forgetResumable(options);
      void postJson(endpoint, "/multipart/abort", { key: record.key }, undefined, { keepalive: true }).catch(() => {});
      throw new UploadFailure({ code: "aborted" });
    }
    // A part or completion the server refused for good: this upload cannot be resumed either.
    if (error instanceof UploadFailure && !error.transient && error.code !== "storage_rejected" && error.status !== undefined && error.status < 500) {
      forgetResumable(options);
    }
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** PUTs one part's bytes; resolves with the ETag storage answered (S3, when CORS exposes it), or null. */
function putPart(target: PartTarget, body: Blob, signal: AbortSignal, onProgress: (loaded: number) => void): Promise<string | null> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new UploadFailure({ code: "aborted" }));
    const xhr = new XMLHttpRequest();
    const abort = () => xhr.abort();
    const settle = (error?: UploadFailure) => {
      signal.removeEventListener("abort", abort);
      if (error) reject(error);
      // Read from the exposed headers: `getResponseHeader` logs an error for one CORS does not expose.
      else resolve(/^etag:\s*(.+?)\s*$/im.exec(xhr.getAllResponseHeaders())?.[1] ?? null);
    };
    xhr.open(target.method, target.url);
    // The browser sets Content-Length from the body; the part headers never need more than a few others.
    for (const [name, value] of Object.entries(target.headers)) if (name.toLowerCase() !== "content-length") xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status <= 299) return settle();
      const transient = xhr.status >= 500 || xhr.status === 408 || xhr.status === 429;
      settle(new UploadFailure({ code: "storage_rejected", status: xhr.status, transient }));
    };
    xhr.onerror = xhr.ontimeout = () => settle(new UploadFailure({ code: "network_error", transient: true }));
    xhr.onabort = () => settle(new UploadFailure({ code: "aborted" }));
    signal.addEventListener("abort", abort, { once: true });
    xhr.send(body);
  });
}

/** POSTs JSON to one of our routes; rejects with an `UploadFailure` carrying the server's code. */
async function postJson<T>(endpoint: string, path: string, body: unknown, signal?: AbortSignal, init: RequestInit = {}): Promise<T> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${endpoint.replace(/\/+$/, "")}${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body),
      signal,
      ...init,
    });
    text = await response.text();
  } catch (cause) {
    if (signal?.aborted) throw new UploadFailure({ code: "aborted" });
    throw new UploadFailure({ code: "network_error", transient: true, cause });
  }
  let parsed: unknown;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const status = response.status;
  if (status < 200 || status > 299) {
    const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const transient = status >= 502 && status <= 504;
    if (typeof error?.code === "string") {
      throw new UploadFailure({ code: error.code, status, serverMessage: typeof error.message === "string" ? error.message : undefined, transient });
    }
    throw new UploadFailure({ code: "server_error", status, transient });
  }
  return parsed as T;
}

function writeRecord(options: MultipartUploadOptions, record: ResumeRecord): void {
  try {
    storageOf(options)?.setItem(recordId(options), JSON.stringify(record));
  } catch {
    // Storage full or disabled: the upload works, it just cannot be resumed after a reload.
  }
}

/** One record per file and field: the same file chosen again has the same name, size and last-modified time. */
function recordId({ fieldId, file }: Pick<MultipartUploadOptions, "fieldId" | "file">): string {
  return `${RECORD_PREFIX}${JSON.stringify([fieldId, file.name, file.size, file.lastModified])}`;
}

function storageOf(options: Pick<MultipartUploadOptions, "storage">): Storage | null {
  return options.storage === undefined ? defaultStorage() : options.storage;
}

function defaultStorage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    // Disabled (privacy settings, sandboxed frames): `localStorage` itself throws.
    return null;
  }
}
