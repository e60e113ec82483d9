/** A figure measured several times: its median, with the smallest and largest run. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number;
}

/** Median (mean of the two middle values for an even count), min and max of repeated runs. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new Error("[bench] summarize: no values");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: sorted.length };
}

/** Rounds to `digits` significant figures, but never shows more than 2 decimals for large numbers. */
export function round(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return "0";
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const decimals = Math.max(0, Math.min(3, digits - 1 - magnitude));
  return value.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** `median (min–max)` of a summary, each formatted by `format`. */
export function spread(summary: Summary, format: (value: number) => string = (value) => round(value)): string {
  if (summary.runs === 1) return `${format(summary.median)} (1 run)`;
  return `${format(summary.median)} (${format(summary.min)}–${format(summary.max)})`;
}

/** `ours / peer` as `1.23×`. */
export function ratio(ours: number, peer: number): string {
  if (!(peer > 0) || !Number.isFinite(ours)) return "n/a";
  return `${round(ours / peer, 3)}×`;
}

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export function formatBytes(bytes: number): string {
  if (bytes >= GiB) return `${round(bytes / GiB)} GiB`;
  if (bytes >= MiB) return `${round(bytes / MiB)} MiB`;
  if (bytes >= KiB) return `${round(bytes / KiB)} KiB`;
  return `${bytes} B`;
}

export const ms = (value: number) => `${round(value)} ms`;
