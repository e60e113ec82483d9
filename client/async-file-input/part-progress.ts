import { partRange } from "../../shared/multipart.js";

/**
 * A chunked upload's progress: the bytes of confirmed parts plus what the parts in flight report.
 * The reported value only grows, so a part that fails and starts over makes the bar wait, never jump
 * back.
 */
export class PartProgress {
  readonly #fileSize: number;
  readonly #partSize: number;
  readonly #onProgress?: (loaded: number) => void;
  readonly #inFlight = new Map<number, number>();
  #confirmed = 0;
  #reported = 0;

  /** Reports at once what the parts in `done` (already held by storage) amount to. */
  constructor(fileSize: number, partSize: number, done: Iterable<number>, onProgress?: (loaded: number) => void) {
    this.#fileSize = fileSize;
    this.#partSize = partSize;
    this.#onProgress = onProgress;
    for (const partNumber of done) this.#confirmed += this.#sizeOf(partNumber);
    this.#report();
  }

  /** A part in flight has sent `loaded` of its bytes. */
  sending(partNumber: number, loaded: number): void {
    this.#inFlight.set(partNumber, Math.min(loaded, this.#sizeOf(partNumber)));
    this.#report();
  }

  /** Storage holds the part. */
  confirm(partNumber: number): void {
    this.#inFlight.delete(partNumber);
    this.#confirmed += this.#sizeOf(partNumber);
    this.#report();
  }

  /** The part's attempt failed; its bytes no longer count (until it is sent again). */
  drop(partNumber: number): void {
    this.#inFlight.delete(partNumber);
  }

  #sizeOf(partNumber: number): number {
    return partRange(partNumber, this.#partSize, this.#fileSize).size;
  }

  #report(): void {
    let loaded = this.#confirmed;
    for (const bytes of this.#inFlight.values()) loaded += bytes;
    const next = Math.min(this.#fileSize, Math.max(this.#reported, loaded));
    // Zero is reported each time, so the first report tells the listener the upload has begun.
    if (next !== this.#reported || next === 0) this.#onProgress?.((this.#reported = next));
  }
}
