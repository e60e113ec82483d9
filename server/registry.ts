import { acceptEntryProblem, type AcceptList } from "../shared/accept.js";
import { FIELD_ID } from "../shared/schemas.js";
import { DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE } from "./multipart/defaults.js";
import { resolveProcessingSteps } from "./processing/steps.js";
import type { ProcessingStep, ResolvedStep } from "./processing/types.js";
import type { StorageDriver } from "./storage/types.js";

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export interface FieldAccessContext {
  /** Who is asking, from `getPrincipal`. */
  principal: string;
  /** The record the field belongs to; absent when creating a new record. */
  instanceId?: string;
  fieldId: string;
}

export interface UploadToContext {
  fieldId: string;
  instanceId?: string;
  /** The sanitised file name. */
  filename: string;
  /**
   * The id of the upload's row (`async_temp_file.id`, a uuid): include it so that final keys are
   * unique and a retried save lands on the same key. Not the storage's multipart upload id.
   */
  fileId: string;
}

/** The options of one form field that takes uploads. */
export interface FieldOptions {
  /** Largest accepted file, in bytes. */
  maxSize: number;
  /** Accepted MIME types (`application/pdf`), wildcards (`image/*`) and extensions (`.docx`). @default [] (anything) */
  accept?: AcceptList;
  /** Whether the field holds several files. @default false */
  multiple?: boolean;
  /** With `multiple`, the most files one save may hold. @default 10 */
  maxFiles?: number;
  /** Storage for this field instead of the app's default. */
  storage?: StorageDriver;
  /**
   * Files of at least this size are uploaded in parts (parallel, retried, resumable) when the browser
   * and the storage can; see `shared/multipart.ts`. `Infinity` turns chunked uploads off. @default 128 MiB (why: `server/multipart/defaults.ts`)
   */
  multipartThreshold?: number;
  /**
   * Size of the parts of a chunked upload; raised to the storage's minimum (S3: 5 MiB) and so that no
   * file needs more than 10,000 parts. @default 8 MiB
   */
  partSize?: number;
  /**
   * The final key for a committed file. Must be deterministic (a retried save must land on the same
   * key) and unique per upload, so it must contain `fileId`.
   * @default `${fieldId}/${instanceId ?? "new"}/${fileId}/${filename}`
   */
  uploadTo?: (context: UploadToContext) => string;
  /** May this principal upload to this field (for this instance)? @default () => true */
  canUpload?: (context: FieldAccessContext) => boolean | Promise<boolean>;
  /** May this principal download this field's file of this instance? @default () => false */
  canDownload?: (context: FieldAccessContext & { instanceId: string }) => boolean | Promise<boolean>;
  /** The stored key(s) of this field for an instance, for downloads; null when there is none. */
  resolveKey?: (context: { instanceId: string; fieldId: string }) => Promise<string | readonly string[] | null>;
  /**
   * Steps run on every upload after it arrived (virus scan, thumbnail…), as jobs on pg-boss, after the
   * built-in `verify` step; the form's value can be saved only once they all passed. Needs
   * `await uploads.start()`. See README "Processing uploads". @default [] (no processing)
   */
  processing?: ProcessingStep[];
}

/** A registered field with every default filled in. */
export interface Field extends Required<Omit<FieldOptions, "storage" | "resolveKey" | "processing">> {
  id: string;
  storage: StorageDriver;
  resolveKey?: FieldOptions["resolveKey"];
  /** The app's processing steps, checked and defaulted (the built-in `verify` is not listed); empty for none. */
  processing: ResolvedStep[];
}

/**
 * The fields that may take uploads. Registering is done once at start-up; a malformed field or a
 * duplicate id throws there, naming the field, rather than failing on the first request.
 */
export class FieldRegistry {
  readonly #fields = new Map<string, Field>();
  readonly #defaultStorage: StorageDriver;

  constructor(defaultStorage: StorageDriver) {
    this.#defaultStorage = defaultStorage;
  }

  register(id: string, options: FieldOptions): Field {
    const fail = (problem: string): never => {
      throw new Error(`[async-uploads] field "${id}": ${problem}`);
    };
    if (!FIELD_ID.test(id)) fail("the id must be 1–100 letters, digits or . _ : -");
    if (this.#fields.has(id)) fail("is registered twice");
    if (!Number.isSafeInteger(options.maxSize) || options.maxSize < 1) fail("maxSize must be a positive whole number of bytes");
    const accept = options.accept ?? [];
    if (!Array.isArray(accept)) fail("accept must be an array of MIME types and extensions");
    for (const entry of accept) {
      const problem = typeof entry === "string" ? acceptEntryProblem(entry) : "accept entries must be strings";
      if (problem) fail(`accept: ${problem}`);
    }
    const multipartThreshold = options.multipartThreshold ?? DEFAULT_MULTIPART_THRESHOLD;
    if (!(multipartThreshold === Infinity || (Number.isSafeInteger(multipartThreshold) && multipartThreshold >= 1))) {
      fail("multipartThreshold must be a positive whole number of bytes, or Infinity");
    }
    const partSize = options.partSize ?? DEFAULT_PART_SIZE;
    if (!Number.isSafeInteger(partSize) || partSize < 1) fail("partSize must be a positive whole number of bytes");
    const maxFiles = options.maxFiles ?? (options.multiple ? 10 : 1);
    if (!Number.isSafeInteger(maxFiles) || maxFiles < 1) fail("maxFiles must be a positive whole number");
    if (!options.multiple && maxFiles !== 1) fail("maxFiles needs multiple: true");
    for (const name of ["uploadTo", "canUpload", "canDownload", "resolveKey"] as const) {
      if (options[name] !== undefined && typeof options[name] !== "function") fail(`${name} must be a function`);
    }
    const processing = resolveProcessingSteps(options.processing);
    if ("problem" in processing) fail(processing.problem);
    const field: Field = {
      id,
      maxSize: options.maxSize,
      accept,
      multiple: options.multiple ?? false,
      maxFiles,
      storage: options.storage ?? this.#defaultStorage,
      multipartThreshold,
      partSize,
      uploadTo: options.uploadTo ?? defaultUploadTo,
      canUpload: options.canUpload ?? (() => true),
      canDownload: options.canDownload ?? (() => false),
      resolveKey: options.resolveKey,
      processing: "steps" in processing ? processing.steps : [],
    };
    this.#fields.set(id, field);
    return field;
  }

  get(id: string): Field | undefined {
    return this.#fields.get(id);
  }

  /** Whether any field declares processing steps (then `start()` runs pg-boss). */
  hasProcessing(): boolean {
    return this.all().some((field) => field.processing.length > 0);
  }

  /** Every registered field (cleanup needs each field's storage). */
  all(): Field[] {
    return [...this.#fields.values()];
  }
}

function defaultUploadTo({ fieldId, instanceId, fileId, filename }: UploadToContext): string {
  return `${fieldId}/${instanceId ?? "new"}/${fileId}/${filename}`;
}
