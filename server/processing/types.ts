import type { Database } from "../db/types.js";
import type { StorageDriver } from "../storage/types.js";

/** What a processing step is given: the uploaded file (still at its temp key) and a signal that aborts at its timeout. */
export interface ProcessingContext {
  /** The upload's row id (`async_temp_file.id`); the topic of its events is `upload:<fileId>`. */
  fileId: string;
  /** Where the bytes are, in `storage`. Read them; do not move or delete them (commit copies them later). */
  key: string;
  fieldId: string;
  /** Who uploaded the file. */
  principal: string;
  /** The sanitised original file name. */
  filename: string;
  /** The type the browser declared (the `verify` step has checked the bytes against the field's `accept`). */
  contentType: string;
  /** Size in bytes, checked by `verify` to be the stored size. */
  size: number;
  storage: StorageDriver;
  /** Aborted when the step's `timeoutSeconds` are up (or the worker stops): stop reading, give up. */
  signal: AbortSignal;
}

/** What a step's `run` may return: nothing (the file passes this step) or a refusal safe to show the person. */
export type ProcessingStepResult = void | undefined | { reject: string };

/** One check or task run on every upload of a field, after the upload arrived and before the form may be saved. */
export interface ProcessingStep {
  /** Short and stable: `/^[a-z][a-z0-9-]{0,40}$/`, unique in the field, not `verify` (the built-in first step). */
  name: string;
  /** Shown to the person while the step runs ("Scanning for viruses"). @default the name, capitalised */
  label?: string;
  /**
   * Does the work. Resolves with nothing to pass the file, with `{ reject: "why" }` to refuse it (the
   * reason is shown as is). Throwing or running past `timeoutSeconds` means "could not check": the step
   * is retried, and after `retryLimit` retries the file is `failed` ("could not be checked, try again").
   */
  run(context: ProcessingContext): Promise<ProcessingStepResult>;
  /** How long one attempt may take; then its signal is aborted and the attempt counts as failed. @default 60 */
  timeoutSeconds?: number;
  /** Retries after a failed attempt (with exponential backoff), before the file is `failed`. @default 2 */
  retryLimit?: number;
}

/** A step with every default filled in. */
export interface ResolvedStep {
  name: string;
  label: string;
  run: ProcessingStep["run"];
  timeoutSeconds: number;
  retryLimit: number;
}

/**
 * How processing publishes a state change: on `topic`, delivered only once `tx` commits. The live
 * channel's `publish` (`server/live/`) has this shape; tests may record instead.
 */
export type Publish = (topic: string, event: string, data: unknown, options?: { tx?: Database; version?: number }) => Promise<void>;
