import { and, eq, gt, isNull, or } from "drizzle-orm";
import type { Database } from "./db/database.js";
import { asyncTempFile } from "./db/schema.js";

export interface PendingUploadQuery {
  fieldId: string;
  /** The form value the browser posted (the key `upload-url` returned). */
  key: string;
  principal: string;
  /** The record being edited; an upload bound to another record is not found. */
  instanceId?: string;
}

/** What the browser declared for an upload that is waiting for its form to be saved. */
export interface PendingUpload {
  key: string;
  filename: string;
  size: number;
  contentType: string;
  expiresAt: Date;
}

// Not a key the server could have made: answered without a query (a NUL byte makes PostgreSQL throw).
const UNSTORABLE = /[\u0000-\u001f\u007f]|\p{Cs}/u;

/**
 * A pending, unexpired upload of this principal for this field (and this record, or none), or null.
 * For showing a form again after a refused save: the file keeps its name and size in the element
 * without being uploaded again. It proves nothing about the bytes; `commit` still verifies them.
 */
export async function findPendingUpload(db: Database, query: PendingUploadQuery, now: Date): Promise<PendingUpload | null> {
  if (typeof query.key !== "string" || query.key.length === 0 || query.key.length > 1024 || UNSTORABLE.test(query.key)) return null;
  const [row] = await db
    .select({
      key: asyncTempFile.key,
      filename: asyncTempFile.originalFilename,
      size: asyncTempFile.declaredSize,
      contentType: asyncTempFile.contentType,
      expiresAt: asyncTempFile.expiresAt,
    })
    .from(asyncTempFile)
    .where(
      and(
        eq(asyncTempFile.key, query.key),
        eq(asyncTempFile.fieldId, query.fieldId),
        eq(asyncTempFile.principal, query.principal),
        eq(asyncTempFile.status, "pending"),
        gt(asyncTempFile.expiresAt, now),
        query.instanceId === undefined
          ? isNull(asyncTempFile.instanceId)
          : or(isNull(asyncTempFile.instanceId), eq(asyncTempFile.instanceId, query.instanceId)),
      ),
    )
    .limit(1);
  return row ?? null;
}
