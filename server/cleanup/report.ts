import ms from "ms";
import { formatBytes } from "../../shared/format-bytes.js";
import type { CleanupProgress, CleanupSummary } from "./cleanup-temp-files.js";

/** Where the CLI writes; a test passes strings collectors. */
export interface OutputStream {
  write(text: string): unknown;
  /** A terminal: progress is one line redrawn in place. */
  isTTY?: boolean;
}

/** `batch 3 · 300/1000 rows · 298 removed · 2 failed · 0 skipped · 1.2 MiB · 4.2s` */
export function formatProgress(progress: CleanupProgress, dryRun: boolean): string {
  const removed = dryRun ? "to remove" : "removed";
  return [
    `batch ${progress.batch}`,
    `${progress.done}/${progress.total} rows`,
    `${progress.removed} ${removed}`,
    `${progress.failed} failed`,
    `${progress.skipped} skipped`,
    formatBytes(progress.bytesFreed),
    formatSeconds(progress.elapsedMs),
  ].join(" · ");
}

/**
 * Progress for people: on a terminal one line redrawn after each batch (cleared before the summary),
 * elsewhere (cron mail, logs) one line per batch.
 */
export function createProgressWriter(out: OutputStream, dryRun: boolean) {
  let drawn = false;
  return {
    update(progress: CleanupProgress): void {
      const line = formatProgress(progress, dryRun);
      if (out.isTTY) {
        out.write(`\r\x1b[2K${line}`);
        drawn = true;
      } else {
        out.write(`${line}\n`);
      }
    },
    /** Ends the redrawn line so that what follows starts on a fresh one. */
    finish(): void {
      if (drawn) out.write("\r\x1b[2K");
      drawn = false;
    },
  };
}

/** The end-of-run summary for people. */
export function formatSummary(summary: CleanupSummary): string {
  const lines: string[] = [];
  const title = summary.dryRun ? "Dry run (nothing was changed)" : "Cleanup";
  const stopped = summary.stoppedBy ? `, stopped early (${STOP_REASONS[summary.stoppedBy]})` : "";
  lines.push(
    `${title}: rows older than ${ms(summary.olderThanMs, { long: true })} (created before ${summary.cutoff}), ` +
      `${summary.batches} batch${summary.batches === 1 ? "" : "es"} in ${formatSeconds(summary.durationMs)}${stopped}`,
  );
  const pad = (label: string, value: number | string) => `  ${label.padEnd(14)}${String(value).padStart(10)}`;
  lines.push(pad("eligible", summary.total));
  lines.push(pad("scanned", summary.scanned));
  lines.push(`${pad(summary.dryRun ? "to remove" : "removed", summary.removed)}  (rows with their objects; an object already gone counts)`);
  // Declared sizes, not measured ones: see CleanupSummary.bytesFreed.
  lines.push(`${pad(summary.dryRun ? "bytes to free" : "bytes freed", formatBytes(summary.bytesFreed))}  (declared sizes)`);
  lines.push(`${pad("failed", summary.failed)}${summary.failed > 0 ? "  (left for the next run)" : ""}`);
  for (const failure of summary.failures) lines.push(`    - ${failure.key}: ${failure.reason}`);
  if (summary.failed > summary.failures.length) lines.push(`    … and ${summary.failed - summary.failures.length} more`);
  if (summary.unavailableStorages.length > 0) {
    lines.push(`    storage not tried further after repeated failures: ${summary.unavailableStorages.join(", ")}`);
  }
  lines.push(pad("skipped", summary.skipped));
  for (const [reason, count] of Object.entries(summary.skippedReasons)) lines.push(`    - ${count} × ${reason}`);
  return `${lines.join("\n")}\n`;
}

const STOP_REASONS: Record<NonNullable<CleanupSummary["stoppedBy"]>, string> = {
  "max-duration": "--max-duration reached; the rest is left for the next run",
  signal: "interrupted",
  "storage-unavailable": "storage unavailable",
};

function formatSeconds(milliseconds: number): string {
  return milliseconds < 60_000 ? `${(milliseconds / 1000).toFixed(1)}s` : ms(milliseconds);
}
