import type { FileCheck } from "./file-row.js";
import { strings } from "./strings.js";

/** The element's settings that validity depends on. */
export interface FieldRules {
  required: boolean;
  multiple: boolean;
}

/** The state of the field's files that validity depends on (the element's `UploadList`). */
export interface FileState {
  /** The keys in the form value. */
  readonly keys: readonly string[];
  /** An upload runs or waits. */
  readonly busy: boolean;
  /** An upload failed and waits for Retry or Remove. */
  readonly failed: boolean;
  /** The first uploaded file the server's checks have not passed (fields with processing steps). */
  readonly unchecked?: { name: string; check: FileCheck };
}

/** One rule: the flags it sets and the message the browser shows, or `false` when the field passes it. */
export type Validator = (field: FieldRules, files: FileState) => [flags: ValidityStateFlags, message: string] | false;

/**
 * The field's rules, first broken one wins: a failed upload, then one still running, then a file the
 * server's checks have not passed (all three block even a `novalidate` form, see the element's submit
 * guard), then `required`.
 */
export const validators: readonly Validator[] = [
  (_field, files) => files.failed && [{ customError: true }, strings.uploadFailed],
  (_field, files) => files.busy && [{ customError: true }, strings.uploadInProgress],
  (_field, { unchecked }) => !!unchecked && [{ customError: true }, uncheckedMessage(unchecked.name, unchecked.check)],
  (field, files) => field.required && files.keys.length === 0 && [{ valueMissing: true }, strings.valueMissing(field.multiple)],
];

/** Applies the first broken rule to the element's internals, or clears its validity; `anchor` is where the browser points. */
export function applyValidity(internals: ElementInternals, field: FieldRules, files: FileState, anchor?: HTMLElement): void {
  for (const validator of validators) {
    const broken = validator(field, files);
    if (broken) return internals.setValidity(broken[0], broken[1], anchor);
  }
  internals.setValidity({});
}

function uncheckedMessage(name: string, check: FileCheck): string {
  if (check.state === "rejected") return strings.rejectedFile(name, check.reason ?? "");
  return check.state === "failed" ? strings.uncheckedFile(name) : strings.stillChecking(name);
}
