import { findResumable, resumeInParts, uploadInParts } from "./multipart-upload.js";
import { browserTransport, type Transport } from "./transport.js";
import { UploadFailure } from "./upload-failure.js";
import { sleep } from "../../shared/sleep.js";
import type { UploadProcessingPlan } from "../../shared/processing.js";
import type { MultipartUploadUrlResponse } from "../../shared/multipart.js";
import type { UploadUrlRequest, UploadUrlResponse } from "../../shared/schemas.js";
import { MAX_UPLOAD_URL_BATCH } from "../../shared/upload-url-batch.js";

/**
 * `queued` → `requesting` (asking our server for a target) → `uploading` (bytes to storage) → `done`;
 * `retrying` is the pause before an automatic retry; `failed` waits for `retry()` (back to `queued`);
 * `canceled` is final.
 */
export type UploadStatus = "queued" | "requesting" | "uploading" | "retrying" | "done" | "failed" | "canceled";

/** Where an upload is asked for: the mounted routes and the form field. */
export interface UploadSettings {
  endpoint: string;
  fieldId: string;
  instanceId?: string;
}

/** One file's upload. The engine changes it; everyone else only reads it. */
export interface Upload {
  readonly id: string;
  readonly file: File;
  readonly settings: UploadSettings;
  readonly status: UploadStatus;
  /** Bytes sent by the current attempt. */
  readonly loaded: number;
  /** The key for the form, once `done`. */
  readonly key?: string;
  /** Why it is `failed`. */
  readonly failure?: UploadFailure;
  /** The server's processing steps for this file (the field declares some), once `done`. */
  readonly processing?: UploadProcessingPlan;
}

export interface UploadEngineOptions {
  /** Called after every change of an upload (status or progress), with the status it had before. */
  onChange(upload: Upload, previous: UploadStatus): void;
  /** @default the browser's fetch and XMLHttpRequest */
  transport?: Transport;
  /** Uploads sent at the same time. @default 6 (what Chromium opens to one host over HTTP/1.1, as Uppy) */
  concurrency?: number;
  /** Automatic retries after a network failure, each with a fresh upload URL. @default 3 */
  networkRetries?: number;
  /** Pause before automatic retry number `retry` (0-based), in ms. @default 500 ms, doubling, ±20 % */
  retryDelay?(retry: number): number;
}

type Target = UploadUrlResponse | MultipartUploadUrlResponse;
type Job = { -readonly [K in keyof Upload]: Upload[K] } & {
  generation: number;
  controller?: AbortController;
  /** The target asked for together with the files added at the same time; used by the first run only. */
  prefetched?: Promise<Target | null>;
};

let lastId = 0;

/**
 * Runs uploads with a small parallel bound. Each run owns an `AbortController`; cancel and retry bump a
 * generation number, so a result that arrives for an older run is ignored rather than applied.
 */
export class UploadEngine {
  readonly #jobs = new Map<string, Job>();
  readonly #queue: Job[] = [];
  /** Files added since the last microtask: asked for together. */
  #added: Job[] = [];
  readonly #options: Required<UploadEngineOptions>;
  #active = 0;

  constructor(options: UploadEngineOptions) {
    this.#options = {
      transport: browserTransport,
      concurrency: 6,
      networkRetries: 3,
      retryDelay: (retry) => 500 * 2 ** retry * (0.8 + Math.random() * 0.4),
      ...options,
    };
  }

  /**
   * Queues a file; it starts as soon as fewer than `concurrency` uploads are running, but never before
   * the caller has had the returned upload in hand (its first change is reported in a microtask).
   */
  add(file: File, settings: UploadSettings): Upload {
    const job: Job = { id: `upload-${++lastId}`, file, settings, status: "queued", loaded: 0, generation: 0 };
    this.#jobs.set(job.id, job);
    this.#queue.push(job);
    this.#added.push(job);
    queueMicrotask(() => {
      this.#askTogether();
      this.#pump();
    });
    return job;
  }

  /** Stops an upload for good (aborting its request) and forgets it. */
  cancel(id: string): void {
    const job = this.#jobs.get(id);
    if (!job) return;
    this.#jobs.delete(id);
    if (job.status === "done" || job.status === "canceled") return;
    job.generation++;
    job.controller?.abort();
    // A target asked for but never used still holds one of the person's unsaved-upload slots: free it.
    const unused = job.prefetched;
    job.prefetched = undefined;
    void unused?.then((target) => target && this.#options.transport.abortMultipart(job.settings.endpoint, { key: target.key })).catch(() => {});
    const queued = this.#queue.indexOf(job);
    if (queued >= 0) this.#queue.splice(queued, 1);
    this.#update(job, { status: "canceled" });
  }

  /** Starts a failed upload again, with a fresh upload URL. */
  retry(id: string): void {
    const job = this.#jobs.get(id);
    if (job?.status !== "failed") return;
    job.generation++;
    this.#update(job, { status: "queued", loaded: 0, failure: undefined });
    this.#queue.push(job);
    queueMicrotask(() => this.#pump());
  }

  /**
   * Files chosen at once ask for their targets in one request per field (up to `MAX_UPLOAD_URL_BATCH`
   * each) instead of one each as they start. A file that may resume a chunked upload asks on its own.
   * Should the batch fail (one file refused refuses it), each file asks on its own as before, so that
   * every file gets its own answer.
   */
  #askTogether(): void {
    const { transport } = this.#options;
    const added = this.#added.filter((job) => job.status === "queued" && !job.prefetched);
    this.#added = [];
    if (!transport.requestTargets) return;
    const groups = new Map<string, Job[]>();
    for (const job of added) {
      const { endpoint, fieldId } = job.settings;
      if (findResumable({ endpoint, fieldId, file: job.file })) continue;
      const group = `${endpoint}\n${fieldId}\n${job.settings.instanceId ?? ""}`;
      groups.set(group, [...(groups.get(group) ?? []), job]);
    }
    for (const jobs of groups.values()) {
      for (let start = 0; jobs.length > 1 && start < jobs.length; start += MAX_UPLOAD_URL_BATCH) {
        const batch = jobs.slice(start, start + MAX_UPLOAD_URL_BATCH);
        const answers = transport.requestTargets(batch[0]!.settings.endpoint, batch.map(requestOf), new AbortController().signal);
        batch.forEach((job, index) => (job.prefetched = answers.then((targets) => targets[index] ?? null, () => null)));
      }
    }
  }

  #pump(): void {
    while (this.#active < this.#options.concurrency) {
      const job = this.#queue.shift();
      if (!job) return;
      void this.#run(job);
    }
  }

  /** One upload from `queued` to `done` or `failed`. Never rejects. */
  async #run(job: Job): Promise<void> {
    const { transport, networkRetries, retryDelay } = this.#options;
    const generation = job.generation;
    const isCurrent = () => job.generation === generation;
    const controller = (job.controller = new AbortController());
    const { file, settings } = job;
    const contentType = file.type || "application/octet-stream";
    let renewed = false;
    let retries = 0;
    this.#active++;
    try {
      for (;;) {
        try {
          this.#update(job, { status: "requesting", loaded: 0 });
          // Large files go in parts: the same file chosen again (or retried) continues where it stopped.
          const inParts = {
            endpoint: settings.endpoint,
            fieldId: settings.fieldId,
            file,
            signal: controller.signal,
            transport,
            onProgress: (loaded: number) => isCurrent() && this.#update(job, { status: "uploading", loaded }),
          };
          const record = findResumable(inParts);
          const resumed = record ? await resumeInParts(inParts, record) : null;
          if (resumed) {
            if (isCurrent()) this.#update(job, { status: "done", loaded: file.size, key: resumed.key, processing: record?.processing });
            return;
          }
          const prefetched = await job.prefetched;
          job.prefetched = undefined;
          const target = prefetched ?? (await transport.requestTarget(settings.endpoint, requestOf(job), controller.signal));
          if (!isCurrent()) return;
          this.#update(job, { status: "uploading" });
          if ("multipart" in target) {
            const { key } = await uploadInParts(inParts, target);
            if (isCurrent()) this.#update(job, { status: "done", loaded: file.size, key, processing: target.processing });
            return;
          }
          await transport.send(target.upload, file, contentType, controller.signal, (loaded) => {
            if (isCurrent()) this.#update(job, { loaded: Math.min(loaded, file.size) });
          });
          if (!isCurrent()) return;
          this.#update(job, { status: "done", loaded: file.size, key: target.key, processing: target.processing });
          return;
        } catch (error) {
          if (!isCurrent()) return;
          const failure = error instanceof UploadFailure ? error : new UploadFailure({ code: "bad_response", cause: error });
          // An expired (or otherwise refused) signed URL: a fresh one, once.
          if (failure.code === "storage_rejected" && failure.status === 403 && !renewed) {
            renewed = true;
            continue;
          }
          if (failure.transient && retries < networkRetries) {
            this.#update(job, { status: "retrying", loaded: 0 });
            await sleep(retryDelay(retries++), controller.signal);
            if (!isCurrent()) return;
            continue;
          }
          this.#update(job, { status: "failed", failure });
          return;
        }
      }
    } finally {
      this.#active--;
      this.#pump();
    }
  }

  #update(job: Job, changes: Partial<Upload>): void {
    const previous = job.status;
    Object.assign(job, changes);
    this.#options.onChange(job, previous);
  }
}

/** What `upload-url` is asked for a file. */
function requestOf({ file, settings }: Job): UploadUrlRequest {
  const request = { fieldId: settings.fieldId, filename: file.name, contentType: file.type || "application/octet-stream", size: file.size, multipart: true };
  return settings.instanceId ? { ...request, instanceId: settings.instanceId } : request;
}
