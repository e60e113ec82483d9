/**
 * The error every driver throws for a failure that is not "not found": the driver's name, the operation,
 * the key(s) involved and the provider's own message, with the provider's error kept as `cause`.
 *
 * @example throw driverError("s3", "copy", error, `"a" to "b"`)
 * // Error: [s3] copy failed ("a" to "b"): NoSuchBucket: The specified bucket does not exist
 */
export function driverError(driver: string, operation: string, cause: unknown, subject?: string): Error {
  const where = subject ? ` (${subject})` : "";
  return new Error(`[${driver}] ${operation} failed${where}: ${describe(cause)}`, { cause });
}

/** `NoSuchBucket (HTTP 404): The specified bucket does not exist`; `RestError BlobNotFound (HTTP 404)` for a bodiless HEAD. */
function describe(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  // The SDKs' own fields: Azure's RestError (statusCode, details.errorCode), AWS ($metadata).
  const extra = cause as { statusCode?: number; details?: { errorCode?: string }; $metadata?: { httpStatusCode?: number } };
  const status = extra.statusCode ?? extra.$metadata?.httpStatusCode;
  const label = [cause.name !== "Error" ? cause.name : "", extra.details?.errorCode ?? "", status ? `(HTTP ${status})` : ""]
    .filter(Boolean)
    .join(" ");
  const message = cause.message && cause.message !== label ? cause.message : "";
  return [label, message].filter(Boolean).join(": ") || "(no message)";
}

/** Whole seconds from now until `date`, at least 1: presigners take a lifetime, not a deadline. */
export function secondsUntil(date: Date, now = Date.now()): number {
  return Math.max(1, Math.floor((date.getTime() - now) / 1000));
}
