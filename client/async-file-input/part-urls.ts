import { MAX_SIGN_PARTS_BATCH, type PartTarget, type SignPartsResponse } from "../../shared/multipart.js";
import { UploadFailure } from "./upload-failure.js";

/** A URL about to expire is signed again rather than sent and refused. */
const EXPIRY_MARGIN_MS = 30_000;

interface SignedUrl {
  target: PartTarget;
  expiresAt: number;
}

/**
 * The signed URLs of a chunked upload's parts: signed on demand, in one batch with the parts waiting
 * next (up to `MAX_SIGN_PARTS_BATCH`), one batch at a time, and signed again when about to expire or
 * when storage refused one.
 */
export class PartUrls {
  readonly #sign: (partNumbers: number[]) => Promise<SignPartsResponse>;
  readonly #waiting: () => readonly number[];
  readonly #urls = new Map<number, SignedUrl>();
  #signing: Promise<void> | null = null;

  /**
   * @param sign asks the server for the URLs of these parts (`multipart/sign-parts`)
   * @param waiting the parts to be sent next, signed in the same batch
   */
  constructor(sign: (partNumbers: number[]) => Promise<SignPartsResponse>, waiting: () => readonly number[]) {
    this.#sign = sign;
    this.#waiting = waiting;
  }

  /** A usable URL for the part. */
  async urlFor(partNumber: number): Promise<PartTarget> {
    if (this.#usable(partNumber)) return this.#urls.get(partNumber)!.target;
    if (!this.#signing) {
      const wanted = [partNumber, ...this.#waiting().filter((n) => n !== partNumber && !this.#usable(n))].slice(0, MAX_SIGN_PARTS_BATCH);
      this.#signing = this.#sign(wanted)
        .then((signed) => {
          const expiresAt = Date.parse(signed.expiresAt);
          for (const target of signed.parts) this.#urls.set(target.partNumber, { target, expiresAt });
        })
        .finally(() => (this.#signing = null));
    }
    await this.#signing;
    // Another worker's batch may not have held this part: then it is this worker's turn to sign.
    const entry = this.#urls.get(partNumber);
    if (!entry) return this.urlFor(partNumber);
    // Close to the upload's own end the server signs for less than the margin; use what there is.
    if (entry.expiresAt <= Date.now()) throw new UploadFailure({ code: "invalid_upload", serverMessage: "The upload has expired." });
    return entry.target;
  }

  /** Forgets the part's URL (storage refused it), so that the next `urlFor` signs it again. */
  discard(partNumber: number): void {
    this.#urls.delete(partNumber);
  }

  #usable(partNumber: number): boolean {
    const entry = this.#urls.get(partNumber);
    return entry !== undefined && entry.expiresAt - EXPIRY_MARGIN_MS > Date.now();
  }
}
