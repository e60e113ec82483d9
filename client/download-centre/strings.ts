import type { ExportSummary } from "../../shared/exports.js";
import { formatBytes } from "../../shared/format-bytes.js";

/**
 * Every string `<async-download-centre>` and `<async-export-button>` show or announce, in one place.
 * Translate by passing some or all of them to `setDownloadStrings()`; elements on the page re-render.
 */
export interface DownloadCentreStrings {
  /** The centre's toggle button (a badge beside it counts the exports being prepared). */
  toggle: string;
  /** Read after the badge's number ("2 preparing"). */
  badge: string;
  /** Heading of the open list. */
  heading: string;
  /** The list has nothing in it. */
  empty: string;
  /** The status text of a row (words, never colour alone). */
  status(item: ExportSummary): string;
  /** Accessible name of a row's progress bar. */
  progressLabel(filename: string): string;
  cancel: string;
  retry: string;
  download: string;
  clear: string;
  /** Accessible names of the row actions, which must contain their visible text. */
  cancelLabel(filename: string): string;
  retryLabel(filename: string): string;
  downloadLabel(filename: string): string;
  clearLabel(filename: string): string;
  /** The list could not be loaded, or an action was refused; `message` is the server's when it sent one. */
  actionFailed(message: string): string;
  /** Polite announcements of status changes. */
  announce(item: ExportSummary): string;
  announceCleared(filename: string): string;

  // <async-export-button>
  /** After a 202: where the file will appear. */
  preparing(filename: string): string;
  /** After a 200: the file was handed to the browser. */
  downloaded(filename: string): string;
  /** While the request is on its way. */
  requesting: string;
  /** Why starting the export failed; `message` is the server's own text when it sent one. */
  requestFailed(message: string, status: number | null): string;
}

export const defaultDownloadStrings: DownloadCentreStrings = {
  toggle: "Downloads",
  badge: "preparing",
  heading: "Your downloads",
  empty: "No downloads yet. Exports you start appear here.",
  status: (item) => {
    switch (item.status) {
      case "queued":
        return "Waiting to start…";
      case "running":
        return item.percentage === null ? "Preparing…" : `Preparing… ${item.percentage}%`;
      case "succeeded":
        return item.size === null ? "Ready" : `Ready · ${formatBytes(item.size)}`;
      case "failed":
        return `Failed: ${item.message ?? "this export could not be built."}`;
      case "cancelled":
        return "Cancelled";
      case "expired":
        return "Expired, start it again";
    }
  },
  progressLabel: (filename) => `Preparing ${filename}`,
  cancel: "Cancel",
  retry: "Retry",
  download: "Download",
  clear: "Clear",
  cancelLabel: (filename) => `Cancel ${filename}`,
  retryLabel: (filename) => `Retry ${filename}`,
  downloadLabel: (filename) => `Download ${filename}`,
  clearLabel: (filename) => `Clear ${filename}`,
  actionFailed: (message) => `That did not work: ${message}`,
  announce: (item) => {
    switch (item.status) {
      case "queued":
        return `${item.filename} is waiting to start.`;
      case "running":
        return `${item.filename} is being prepared.`;
      case "succeeded":
        return `${item.filename} is ready to download.`;
      case "failed":
        return `${item.filename} failed: ${item.message ?? ""}`;
      case "cancelled":
        return `${item.filename} was cancelled.`;
      case "expired":
        return `${item.filename} has expired.`;
    }
  },
  announceCleared: (filename) => `${filename} cleared.`,
  preparing: (filename) => `Preparing ${filename}… it will appear in your downloads.`,
  downloaded: (filename) => `${filename} downloaded.`,
  requesting: "Starting the export…",
  requestFailed: (message, status) =>
    status === null ? "The connection failed. Check your network, then try again." : message || `The export could not be started (error ${status}).`,
};

/** The strings in use now. Read it at render time; never keep a copy. */
export let downloadStrings: DownloadCentreStrings = defaultDownloadStrings;

const listeners = new Set<() => void>();

/** Replaces some or all strings (e.g. with translations) and re-renders every element on the page. */
export function setDownloadStrings(overrides: Partial<DownloadCentreStrings>): void {
  downloadStrings = { ...downloadStrings, ...overrides };
  for (const listener of listeners) listener();
}

/** For the elements: be told when strings change. Returns the function that stops it. */
export function onDownloadStringsChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
