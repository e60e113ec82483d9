import { partRange, type MultipartUploadUrlResponse } from "../../shared/multipart.js";
import { PartProgress } from "./part-progress.js";
import { PartScheduler } from "./part-scheduler.js";
import { ResumeRecords, type ResumeRecord } from "./resume-records.js";
import { browserTransport, type Transport } from "./transport.js";
import { UploadFailure } from "./upload-failure.js";

/**
 * Large files in parts (`shared/multipart.ts`): a bounded number of parts in flight, each retried with
 * backoff (`PartScheduler`), part URLs signed in batches on demand and signed again when storage
 * refuses one (`PartUrls`), progress as confirmed bytes that never goes back (`PartProgress`), and a
 * record in `localStorage` so that the same file chosen again after a reload or a crash continues
 * where it stopped (`ResumeRecords`).
 *
 * The engine calls `uploadInParts` when `upload-url` answers with `multipart`, or `resumeInParts`
 * with a record `findResumable` found for the chosen file.
 */

export type { ResumeRecord } from "./resume-records.js";

export interface MultipartUploadOptions {
  /** Where the routes are mounted (the component's `endpoint`). */
  endpoint: string;
  fieldId: string;
  file: File;
  /** Canceling stops every request and cancels the upload on the server (`multipart/abort`). */
  signal: AbortSignal;
  /** Confirmed bytes plus the bytes of parts in flight; never decreases. */
  onProgress?(loaded: number): void;
  /** Parts sent at the same time. @default 6 (what Chromium opens to one host over HTTP/1.1) */
  concurrency?: number;
  /** Automatic retries of one part after a network failure or a 5xx. @default 5 */
  partRetries?: number;
  /** Pause before retry number `retry` (0-based) of a part, in ms. @default 500 ms, doubling up to 15 s, ±20 % */
  retryDelay?(retry: number): number;
  /** Where resume records live. @default window.localStorage (none when it is unavailable) */
  storage?: Storage | null;
  /** @default the browser's fetch and XMLHttpRequest */
  transport?: Transport;
}

/** Starts sending a new chunked upload (the `upload-url` answer) and resolves with the key for the form. */
export function uploadInParts(options: MultipartUploadOptions, started: MultipartUploadUrlResponse): Promise<{ key: string }> {
  const { processing } = started;
  const record: ResumeRecord = { endpoint: options.endpoint, key: started.key, plan: started.multipart, expiresAt: started.expiresAt, ...(processing ? { processing } : {}) };
  new ResumeRecords(options.storage).save(options, record);
  return sendAndComplete(options, record, new Map());
}

/**
 * Continues an upload from a resume record: asks the server which parts storage holds and sends only
 * the others. Resolves null (and forgets the record) when the server can no longer continue it
 * (completed, canceled, expired, lost by storage): then start anew.
 */
export async function resumeInParts(options: MultipartUploadOptions, record: ResumeRecord): Promise<{ key: string } | null> {
  const { file, signal, endpoint, transport = browserTransport } = options;
  const records = new ResumeRecords(options.storage);
  let listed;
  try {
    listed = await transport.listParts(endpoint, { key: record.key }, signal);
  } catch (error) {
    if (!(error instanceof UploadFailure) || error.transient || error.code === "aborted") throw error;
    records.forget(options);
    return null;
  }
  const { partSize, partCount } = listed;
  if (partSize !== record.plan.partSize || partCount !== record.plan.partCount) {
    records.forget(options);
    return null;
  }
  // A part of the wrong size (cut short by a crash) is sent again.
  const held = listed.parts.filter((part) => part.size === partRange(part.partNumber, partSize, file.size).size);
  return sendAndComplete(options, record, new Map(held.map((part) => [part.partNumber, part.etag])));
}

/** The resume record of this file for this field, when an unexpired one exists (same name, size and last-modified). */
export function findResumable(options: Pick<MultipartUploadOptions, "fieldId" | "file" | "endpoint" | "storage">): ResumeRecord | null {
  const records = new ResumeRecords(options.storage);
  // Records of files never chosen again would stay forever: each look-up clears the expired ones.
  records.prune();
  return records.find(options, options.endpoint);
}

/** Sends every part storage does not hold (`held`, with their ETags), then completes. */
async function sendAndComplete(
  options: MultipartUploadOptions,
  record: ResumeRecord,
  held: Map<number, string | undefined>,
): Promise<{ key: string }> {
  const { file, signal, endpoint, transport = browserTransport } = options;
  const { partSize, partCount } = record.plan;
  const records = new ResumeRecords(options.storage);
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  signal.addEventListener("abort", onAbort, { once: true });
  const allParts = Array.from({ length: partCount }, (_, i) => i + 1);
  const scheduler = new PartScheduler({
    transport,
    file,
    partSize,
    parts: allParts.filter((n) => !held.has(n)),
    controller,
    sign: (partNumbers) => transport.signParts(endpoint, { key: record.key, partNumbers }, controller.signal),
    progress: new PartProgress(file.size, partSize, held.keys(), options.onProgress),
    concurrency: Math.max(1, options.concurrency ?? 6),
    partRetries: options.partRetries ?? 5,
    retryDelay: options.retryDelay ?? ((retry) => Math.min(15_000, 500 * 2 ** retry) * (0.8 + Math.random() * 0.4)),
  });
  try {
    const etags = await scheduler.run();
    if (signal.aborted) throw new UploadFailure({ code: "aborted" });
    const parts = allParts.map((partNumber) => {
      const etag = etags.get(partNumber) ?? held.get(partNumber);
      return etag ? { partNumber, etag } : { partNumber };
    });
    const result = await transport.completeMultipart(endpoint, { key: record.key, parts }, controller.signal);
    records.forget(options);
    return { key: result.key };
  } catch (error) {
    if (signal.aborted) {
      // Canceled by the person: the server discards the parts (fire and forget; cleanup is the backstop).
      records.forget(options);
      void transport.abortMultipart(endpoint, { key: record.key }).catch(() => {});
      throw new UploadFailure({ code: "aborted" });
    }
    // A part or completion the server refused for good: this upload cannot be resumed either.
    if (error instanceof UploadFailure && !error.transient && error.code !== "storage_rejected" && error.status !== undefined && error.status < 500) {
      records.forget(options);
    }
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
