import { and, count, eq, gt, sql, type SQL } from "drizzle-orm";
import { formatBytes } from "../../shared/format-bytes.js";
import type { Database } from "../db/database.js";
import { asyncTempFile } from "../db/schema.js";
import { AsyncUploadsError } from "../errors.js";
import { GiB, type Field } from "../registry.js";
import type { RouteDeps } from "./deps.js";

/** Declared bytes one principal may have waiting to be saved, unless the field's own `maxSize` is larger. */
export const DEFAULT_MAX_PENDING_BYTES_PER_PRINCIPAL = 10 * GiB;
/** Declared bytes all principals together may have waiting, unless one field's `maxSize` is larger. */
export const DEFAULT_MAX_PENDING_BYTES = 100 * GiB;

/** The limits on unsaved uploads that hold for a request to `field`, defaults resolved. */
export interface PendingLimits {
  uploads: number;
  bytesPerPrincipal: number;
  bytes: number;
}

export function limitsFor(deps: RouteDeps, field: Field): PendingLimits {
  // Field-aware defaults: a field that takes 50 GiB files must be able to take one of them.
  const bytesPerPrincipal = deps.maxPendingBytesPerPrincipal ?? Math.max(DEFAULT_MAX_PENDING_BYTES_PER_PRINCIPAL, field.maxSize);
  const bytes = deps.maxPendingBytes ?? Math.max(DEFAULT_MAX_PENDING_BYTES, bytesPerPrincipal);
  return { uploads: deps.maxPendingUploadsPerPrincipal, bytesPerPrincipal, bytes };
}

/**
 * Refuses a file that no amount of waiting would let in: larger than everything one principal, or
 * everybody, may have pending. Answered 413 like any file over `maxSize`, before anything is signed.
 */
export function refuseFileOverPendingLimits(deps: RouteDeps, field: Field, size: number): void {
  const limits = limitsFor(deps, field);
  const limit = Math.min(limits.bytesPerPrincipal, limits.bytes);
  if (size > limit) throw new AsyncUploadsError("file_too_large", `The file is larger than the ${formatBytes(limit)} that may wait to be saved here.`);
}

/**
 * Refuses (429) an upload of `size` bytes that would take the principal over its count or bytes of
 * unsaved uploads, or everybody over the overall bytes. Only `pending` rows that have not expired count:
 * an expired one can no longer be saved, and cleanup removes it. A look without a lock: the exact check
 * is the one `insertWithinPendingLimits` makes as it inserts.
 */
export async function refuseOverPendingLimits(db: Database, deps: RouteDeps, field: Field, principal: string, size: number, now: Date): Promise<void> {
  const limits = limitsFor(deps, field);
  const mine: SQL = sql`${asyncTempFile.principal} = ${principal}`;
  const overall = limits.bytes !== Infinity;
  const [row] = await db
    .select({
      uploads: overall ? sql<number>`count(*) filter (where ${mine})`.mapWith(Number) : count(),
      principalBytes: sql<string>`coalesce(sum(${asyncTempFile.declaredSize}) filter (where ${mine}), 0)`.mapWith(Number),
      bytes: sql<string>`coalesce(sum(${asyncTempFile.declaredSize}), 0)`.mapWith(Number),
    })
    .from(asyncTempFile)
    // Without an overall bound only the principal's rows are read (the principal/status index).
    .where(and(eq(asyncTempFile.status, "pending"), gt(asyncTempFile.expiresAt, now), overall ? undefined : mine));
  const { uploads = 0, principalBytes = 0, bytes = 0 } = row ?? {};
  if (uploads >= limits.uploads) throw pendingLimitError("uploads", limits);
  if (principalBytes + size > limits.bytesPerPrincipal) throw pendingLimitError("bytesPerPrincipal", limits);
  if (overall && bytes + size > limits.bytes) throw pendingLimitError("bytes", limits);
}

/** The 429 for the limit an upload (or a batch of them) would go over. */
export function pendingLimitError(limit: keyof PendingLimits, limits: PendingLimits): AsyncUploadsError {
  if (limit === "uploads") {
    return new AsyncUploadsError("too_many_uploads", "Too many unsaved uploads. Save or discard your forms, then try again.");
  }
  if (limit === "bytesPerPrincipal") {
    return new AsyncUploadsError(
      "too_many_pending_bytes",
      `Your unsaved uploads would come to more than the ${formatBytes(limits.bytesPerPrincipal)} allowed. Save or discard your forms, then try again.`,
    );
  }
  return new AsyncUploadsError("storage_quota_reached", "The server is holding too many unsaved uploads right now. Please try again later.");
}
