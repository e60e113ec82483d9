import { formatBytes } from "../../shared/format-bytes.js";
import { partCountOf, partRange, type StagedPart } from "../../shared/multipart.js";

export interface PartListPlan {
  /** Declared size of the whole file. */
  size: number;
  partSize: number;
  /** The storage's smallest part but the last (S3: 5 MiB). */
  minPartSize: number;
}

export type PartListCheck = { ok: true; parts: StagedPart[] } | { ok: false; reason: string };

/**
 * Checks the browser's part list against the parts the storage holds, before anything is assembled:
 * listed once each in ascending order, exactly parts 1…n of the plan, each received, each of exactly
 * its planned size (so every part but the last is at least the storage's minimum and the total is the
 * declared size), and each the part the browser sent when it names an ETag. Returns the staged parts
 * to assemble, in order, or the reason for a person (and a developer) to read.
 */
export function checkPartList(listed: ReadonlyArray<{ partNumber: number; etag?: string }>, staged: readonly StagedPart[], plan: PartListPlan): PartListCheck {
  const refuse = (reason: string): PartListCheck => ({ ok: false, reason });
  const partCount = partCountOf(plan.size, plan.partSize);
  for (let i = 1; i < listed.length; i++) {
    const [previous, current] = [listed[i - 1]!.partNumber, listed[i]!.partNumber];
    if (current <= previous) return refuse(`The parts must be listed once each, in ascending order: part ${current} comes after part ${previous}.`);
  }
  const beyond = listed.find((part) => part.partNumber > partCount);
  if (beyond) return refuse(`This upload has ${partCount} parts; there is no part ${beyond.partNumber}.`);
  if (listed.length < partCount) {
    const numbers = new Set(listed.map((part) => part.partNumber));
    const missing = Array.from({ length: partCount }, (_, i) => i + 1).filter((n) => !numbers.has(n));
    return refuse(`The part list is missing part${missing.length === 1 ? "" : "s"} ${summarize(missing)} of ${partCount}.`);
  }

  const byNumber = new Map(staged.map((part) => [part.partNumber, part]));
  const notReceived = listed.filter((part) => !byNumber.has(part.partNumber)).map((part) => part.partNumber);
  if (notReceived.length > 0) {
    return refuse(`Part${notReceived.length === 1 ? "" : "s"} ${summarize(notReceived)} never arrived in storage; send ${notReceived.length === 1 ? "it" : "them"} again, then complete.`);
  }
  const parts: StagedPart[] = [];
  for (const { partNumber, etag } of listed) {
    const part = byNumber.get(partNumber)!;
    const expected = partRange(partNumber, plan.partSize, plan.size).size;
    if (part.size !== expected && partNumber < partCount) {
      const tooSmall = part.size < plan.minPartSize;
      return refuse(
        `Part ${partNumber} has ${part.size} bytes but must have exactly ${expected}` +
          (tooSmall ? ` (every part but the last must have at least ${formatBytes(plan.minPartSize)}).` : "."),
      );
    }
    if (etag !== undefined && part.etag !== undefined && unquote(etag) !== unquote(part.etag)) {
      return refuse(`Part ${partNumber} in storage is not the part that was sent (its ETag differs); send it again, then complete.`);
    }
    parts.push(part);
  }
  const total = parts.reduce((sum, part) => sum + part.size, 0);
  if (total !== plan.size) return refuse(`The parts add up to ${total} bytes, but the file has ${plan.size}.`);
  return { ok: true, parts };
}

/** ETags are compared without their quotes (S3 does the same). */
function unquote(etag: string): string {
  return etag.replace(/^W\//, "").replace(/"/g, "");
}

/** `3`, `3, 5`, `3, 5, 8 and 12 more`. */
function summarize(numbers: number[]): string {
  const shown = numbers.slice(0, 5).join(", ");
  return numbers.length > 5 ? `${shown} and ${numbers.length - 5} more` : shown;
}
