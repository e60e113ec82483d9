import type { UploadFailureInfo } from "./upload-failure.js";
import { rowStrings } from "./row-strings.js";

/**
 * Every string `<async-file-input>` shows or announces, in one place. Translate by passing some or all
 * of them to `setStrings()`; elements already on the page re-render.
 */
export interface AsyncFileInputStrings {
  /** The empty state's call to action. */
  chooseOrDrop(multiple: boolean): string;
  /** Shown while files are dragged over the element. */
  dropHere: string;
  /** The line under the call to action that states the limits; "" hides it. */
  constraints(limits: { accept: readonly string[]; maxSize: number; multiple: boolean; maxFiles: number }): string;
  cancel: string;
  retry: string;
  remove: string;
  replace: string;
  /** Accessible names of the buttons, which must contain their visible text. */
  cancelLabel(name: string): string;
  retryLabel(name: string): string;
  removeLabel(name: string): string;
  replaceLabel(name: string): string;
  progressLabel(name: string): string;
  waiting: string;
  /** The pause before an automatic retry after a network failure. */
  retrying: string;
  uploaded: string;
  /** "" for a file that was already stored when the page loaded. */
  stored: string;
  failed: string;
  /** A byte count for people. */
  formatSize(bytes: number): string;

  // Files refused before any request is made.
  emptyFile(name: string): string;
  tooLarge(name: string, maxSize: number): string;
  wrongType(name: string, accept: readonly string[]): string;
  badName(name: string): string;
  folder(name: string): string;
  onlyOneFile: string;
  tooManyFiles(maxFiles: number, leftOut: number): string;
  /** After the first few refusals, the count of the others. */
  moreRefusals(count: number): string;

  /** Why an upload failed; `failure.serverMessage` is the server's own text, when it sent one. */
  uploadError(failure: UploadFailureInfo): string;

  // The server's checks after an upload (fields with processing steps).
  /** A step's state in the row: `label` is the step's own ("Scanning for viruses"), null before the first. */
  checking(label: string | null): string;
  ready: string;
  rejected: string;
  /** The checks could not run (an error or a timeout after the server's retries). */
  checkFailed: string;
  checkAgainLabel(name: string): string;

  // Validity messages, shown by the browser when the form is submitted.
  valueMissing(multiple: boolean): string;
  uploadInProgress: string;
  uploadFailed: string;
  stillChecking(name: string): string;
  rejectedFile(name: string, reason: string): string;
  uncheckedFile(name: string): string;

  // Announcements for screen readers (aria-live).
  announceStarted(name: string): string;
  announceUploaded(name: string): string;
  announceFailed(name: string, message: string): string;
  announceCanceled(name: string): string;
  announceRemoved(name: string): string;
  /** A file's check changed: `state` is what the row shows (`checking(label)`, `ready`, …), `reason` why when refused. */
  announceCheck(name: string, state: string, reason: string | null): string;
}

// Binary units, as in the server's own messages ("larger than the 50 MiB allowed").
const UNITS = ["bytes", "KiB", "MiB", "GiB", "TiB"];

// Building an Intl.NumberFormat is costly and every file row formats sizes on each render; two
// formatters (0 or 1 fraction digits) serve them all.
const numberFormats: Intl.NumberFormat[] = [];

function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  const format = (numberFormats[digits] ??= new Intl.NumberFormat(undefined, { maximumFractionDigits: digits }));
  return `${format.format(value)} ${UNITS[unit]}`;
}

function describeAccept(accept: readonly string[]): string {
  return accept.map((entry) => (entry.startsWith(".") ? entry.slice(1).toUpperCase() : entry)).join(", ");
}

export const defaultStrings: AsyncFileInputStrings = {
  chooseOrDrop: (multiple) => (multiple ? "Choose files or drop them here" : "Choose a file or drop it here"),
  dropHere: "Drop to upload",
  constraints: ({ accept, maxSize, multiple, maxFiles }) =>
    [
      accept.length ? describeAccept(accept) : "",
      maxSize ? `up to ${formatSize(maxSize)}${multiple ? " each" : ""}` : "",
      multiple ? `at most ${maxFiles} files` : "",
    ]
      .filter(Boolean)
      .join(" · "),
  retry: "Retry",
  retryLabel: (name) => `Retry upload of ${name}`,
  formatSize,
  emptyFile: (name) => `“${name}” is empty (0 bytes) and was not added.`,
  tooLarge: (name, maxSize) => `“${name}” is larger than ${formatSize(maxSize)} and was not added.`,
  wrongType: (name, accept) => `“${name}” is not an accepted type (${describeAccept(accept)}) and was not added.`,
  badName: (name) => `“${name}” has a name that cannot be stored; rename it and try again.`,
  folder: (name) => `“${name}” is a folder; choose the files inside it instead.`,
  onlyOneFile: "Only one file can be added here; choose one.",
  tooManyFiles: (maxFiles, leftOut) =>
    `At most ${maxFiles} files can be added; ${leftOut} ${leftOut === 1 ? "was" : "were"} left out.`,
  moreRefusals: (count) => `${count} more ${count === 1 ? "file was" : "files were"} not added.`,
  uploadError: (failure) => {
    switch (failure.code) {
      case "network_error":
        return "The connection failed. Check your network, then retry.";
      case "bad_response":
        return "The server sent an answer this page does not understand. Please retry later.";
      case "server_error":
        return `The server could not prepare the upload (error ${failure.status}). Please retry.`;
      case "storage_rejected":
        return `The storage refused the file (error ${failure.status}${failure.serverMessage ? `: ${failure.serverMessage}` : ""}).`;
      default:
        return failure.serverMessage || `The upload failed (${failure.code}).`;
    }
  },
  valueMissing: (multiple) => (multiple ? "Please add at least one file." : "Please choose a file."),
  uploadInProgress: "Please wait until the upload has finished.",
  uploadFailed: "An upload failed. Retry it or remove the file.",
  announceFailed: (name, message) => `${name} failed: ${message}`,
  ...rowStrings,
};

/** The strings in use now. Read it at render time; never keep a copy. */
export let strings: AsyncFileInputStrings = defaultStrings;

const listeners = new Set<() => void>();

/** Replaces some or all strings (e.g. with translations) and re-renders every element on the page. */
export function setStrings(overrides: Partial<AsyncFileInputStrings>): void {
  strings = { ...strings, ...overrides };
  for (const listener of listeners) listener();
}

/**
 * Adds defaults that were not there yet (the file list's chunk of the browser bundle brings the rows'
 * strings, see row-strings.ts); strings already set by `setStrings` stay. Elements re-render.
 */
export function addDefaultStrings(more: Partial<AsyncFileInputStrings>): void {
  Object.assign(defaultStrings, { ...more, ...defaultStrings });
  strings = { ...more, ...strings };
  for (const listener of listeners) listener();
}

/** For the element: be told when strings change. Returns the function that stops it. */
export function onStringsChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
