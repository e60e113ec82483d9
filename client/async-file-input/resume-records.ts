import type { MultipartPlan } from "../../shared/multipart.js";
import type { UploadProcessingPlan } from "../../shared/processing.js";
import { isMultipartPlan, isRecord, isUploadProcessingPlan } from "../../shared/response-guards.js";

/** What is kept in `localStorage` per file and field, until the upload completes or expires. */
export interface ResumeRecord {
  endpoint: string;
  key: string;
  plan: MultipartPlan;
  /** ISO time after which the upload can no longer be continued (the server's). */
  expiresAt: string;
  /** The field's processing steps, so that a resumed upload is checked too. */
  processing?: UploadProcessingPlan;
}

/** The file a record is for, and where: the same file chosen again has the same name, size and last-modified time. */
export interface ResumeSubject {
  fieldId: string;
  file: File;
}

const RECORD_PREFIX = "async-uploads:multipart:";
/** A record this close to its end is not offered: the upload would expire before it finished. */
const RESUME_MARGIN_MS = 60_000;

/**
 * The resume records of chunked uploads in a `Storage` (`localStorage` by default), one per file and
 * field, so that the same file chosen again after a reload or a crash continues where it stopped.
 * Without storage (disabled, full) every method does nothing: uploads work, they just do not resume.
 */
export class ResumeRecords {
  readonly #storage: Storage | null;

  /** @param storage where records live; `undefined` for `localStorage` when the page may use it */
  constructor(storage?: Storage | null) {
    this.#storage = storage === undefined ? defaultStorage() : storage;
  }

  /**
   * The record of this file for this field and endpoint, when an unexpired one exists; a record that
   * is expired, unreadable or for another endpoint is removed.
   */
  find(subject: ResumeSubject, endpoint: string): ResumeRecord | null {
    const id = recordId(subject);
    const text = this.#storage?.getItem(id);
    if (!text) return null;
    const record = parseRecord(text);
    if (record?.endpoint === endpoint && Date.parse(record.expiresAt) > Date.now() + RESUME_MARGIN_MS) return record;
    this.#storage?.removeItem(id);
    return null;
  }

  /** Keeps the record of a started upload. */
  save(subject: ResumeSubject, record: ResumeRecord): void {
    try {
      this.#storage?.setItem(recordId(subject), JSON.stringify(record));
    } catch {
      // Storage full or disabled: the upload works, it just cannot be resumed after a reload.
    }
  }

  /** Forgets the file's record (after completion, on cancel, or when the server no longer has the upload). */
  forget(subject: ResumeSubject): void {
    this.#storage?.removeItem(recordId(subject));
  }

  /** Removes expired and unreadable records of every file, including files never chosen again. */
  prune(): void {
    const storage = this.#storage;
    if (!storage) return;
    for (let i = storage.length - 1; i >= 0; i--) {
      const id = storage.key(i);
      if (!id?.startsWith(RECORD_PREFIX)) continue;
      const record = parseRecord(storage.getItem(id) ?? "");
      if (!record || !(Date.parse(record.expiresAt) > Date.now())) storage.removeItem(id);
    }
  }
}

function recordId({ fieldId, file }: ResumeSubject): string {
  return `${RECORD_PREFIX}${JSON.stringify([fieldId, file.name, file.size, file.lastModified])}`;
}

/** A stored record, or null when the text is not one (written by another version, or edited by hand). */
function parseRecord(text: string): ResumeRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const valid =
    isRecord(value) &&
    typeof value.endpoint === "string" &&
    typeof value.key === "string" &&
    typeof value.expiresAt === "string" &&
    isMultipartPlan(value.plan) &&
    (value.processing === undefined || isUploadProcessingPlan(value.processing));
  return valid ? (value as unknown as ResumeRecord) : null;
}

function defaultStorage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    // Disabled (privacy settings, sandboxed frames): `localStorage` itself throws.
    return null;
  }
}
