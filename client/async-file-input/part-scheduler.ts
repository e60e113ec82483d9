import { partRange, type SignPartsResponse } from "../../shared/multipart.js";
import { sleep } from "../../shared/sleep.js";
import type { PartProgress } from "./part-progress.js";
import { PartUrls } from "./part-urls.js";
import type { Transport } from "./transport.js";
import { UploadFailure } from "./upload-failure.js";

export interface PartSchedulerOptions {
  transport: Transport;
  file: Blob;
  partSize: number;
  /** The parts to send, in order. */
  parts: number[];
  /** Stops every part; the scheduler aborts it too when a part fails for good. */
  controller: AbortController;
  /** Asks the server for the URLs of these parts (`multipart/sign-parts`). */
  sign(partNumbers: number[]): Promise<SignPartsResponse>;
  progress: PartProgress;
  /** Parts sent at the same time. */
  concurrency: number;
  /** Automatic retries of one part after a network failure or a 5xx. */
  partRetries: number;
  /** Pause before retry number `retry` (0-based) of a part, in ms. */
  retryDelay(retry: number): number;
}

/** How often a part whose URL storage refused (403, most likely an expired signature) is signed again. */
const RESIGNS_PER_PART = 2;

/**
 * Sends a chunked upload's parts: at most `concurrency` at a time, each retried on its own with
 * backoff; the first part that fails for good stops the others, and the whole run rejects with it.
 */
export class PartScheduler {
  readonly #options: PartSchedulerOptions;
  /** The parts not yet started, in order. */
  readonly #queue: number[];
  /** Signed in batches cut from the front of the queue. */
  readonly #urls: PartUrls;
  /** ETags storage answered, by part number (S3 only). */
  readonly #etags = new Map<number, string>();

  constructor(options: PartSchedulerOptions) {
    this.#options = options;
    this.#queue = [...options.parts];
    this.#urls = new PartUrls(options.sign, () => this.#queue);
  }

  /** Resolves with the ETags storage answered, by part number, once every part is held. */
  async run(): Promise<Map<number, string>> {
    const { concurrency, controller } = this.#options;
    let failure: unknown;
    const worker = async () => {
      while (failure === undefined && this.#queue.length > 0) {
        const partNumber = this.#queue.shift()!;
        try {
          await this.#send(partNumber);
        } catch (error) {
          failure ??= error;
          controller.abort(); // the others stop too: the upload has failed as a whole
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, this.#queue.length) }, worker));
    if (failure !== undefined) throw failure;
    return this.#etags;
  }

  /** One part, with its retries. */
  async #send(partNumber: number): Promise<void> {
    const { transport, file, partSize, progress, partRetries, retryDelay } = this.#options;
    const urls = this.#urls;
    const { signal } = this.#options.controller;
    const { offset, size } = partRange(partNumber, partSize, file.size);
    let retries = 0;
    let resigned = 0;
    for (;;) {
      try {
        const target = await urls.urlFor(partNumber);
        const etag = await transport.sendPart(target, file.slice(offset, offset + size), signal, (loaded) => progress.sending(partNumber, loaded));
        if (etag) this.#etags.set(partNumber, etag);
        progress.confirm(partNumber);
        return;
      } catch (error) {
        progress.drop(partNumber);
        const failure = error instanceof UploadFailure ? error : new UploadFailure({ code: "network_error", transient: true, cause: error });
        if (failure.code === "aborted") throw failure;
        if (failure.status === 403 && resigned < RESIGNS_PER_PART) {
          resigned++;
          urls.discard(partNumber);
          continue;
        }
        if (failure.transient && retries < partRetries) {
          await sleep(retryDelay(retries++), signal);
          if (signal.aborted) throw new UploadFailure({ code: "aborted" });
          continue;
        }
        throw failure;
      }
    }
  }
}
