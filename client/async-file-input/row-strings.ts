import type { AsyncFileInputStrings } from "./strings.js";

/**
 * The strings only a file row, its announcements and its checks use: part of `defaultStrings`. The
 * browser bundle leaves them out of the element's file (client/build.ts) and the file list's chunk
 * adds them (`addDefaultStrings`) when it loads, before any row renders; so in `dist/browser/*.js`,
 * `defaultStrings` holds them from then on. Translations set earlier with `setStrings` are kept.
 */
export const rowStrings = {
  cancel: "Cancel",
  remove: "Remove",
  replace: "Replace",
  cancelLabel: (name) => `Cancel upload of ${name}`,
  removeLabel: (name) => `Remove ${name}`,
  replaceLabel: (name) => `Replace ${name}`,
  progressLabel: (name) => `Uploading ${name}`,
  waiting: "Waiting…",
  retrying: "Connection lost, retrying…",
  uploaded: "Uploaded",
  stored: "",
  failed: "Upload failed",
  checking: (label) => `${label || "Checking"}…`,
  ready: "Ready",
  rejected: "Rejected",
  checkFailed: "Could not be checked, try again",
  checkAgainLabel: (name) => `Retry checking ${name}`,
  stillChecking: (name) => `${name} is still being checked.`,
  rejectedFile: (name, reason) => `${name} was rejected${reason ? `: ${reason.replace(/[.\s]*$/, "")}` : ""}. Remove it or choose another file.`,
  uncheckedFile: (name) => `${name} could not be checked. Retry or remove the file.`,
  announceStarted: (name) => `Uploading ${name}.`,
  announceUploaded: (name) => `${name} uploaded.`,
  announceCanceled: (name) => `Upload of ${name} canceled.`,
  announceRemoved: (name) => `${name} removed.`,
  announceCheck: (name, state, reason) => `${name}: ${state}${reason ? ` – ${reason}` : ""}`,
} satisfies Partial<AsyncFileInputStrings>;
