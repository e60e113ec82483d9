import { eq } from "drizzle-orm";
import type { Database } from "../db/database.js";
import { asyncTempFile, type AsyncTempFile } from "../db/schema.js";
import { AsyncUploadsError } from "../errors.js";
import type { Field, FieldRegistry } from "../registry.js";
import type { MultipartCapability } from "../storage/types.js";
import { multipartStateOf, type MultipartState } from "./plan.js";

export interface OpenUpload {
  row: AsyncTempFile;
  field: Field;
  capability: MultipartCapability;
  /** Null once the server completed the upload (the parts are assembled). */
  state: MultipartState | null;
}

/**
 * The chunked upload at `key`, for its own principal only, still pending and not expired. Anyone
 * else, and any key that is not an upload, gets the same `not_found`: the routes never tell whether
 * someone else's upload exists. `lock` takes the row lock (complete, abort), so that two completions
 * of one upload run one after the other.
 */
export async function loadUpload(
  db: Database,
  deps: { registry: FieldRegistry; now: () => Date },
  key: string,
  principal: string,
  options: { lock?: boolean } = {},
): Promise<OpenUpload> {
  const notFound = () => new AsyncUploadsError("not_found", "There is no such upload.");
  const query = db.select().from(asyncTempFile).where(eq(asyncTempFile.key, key));
  const [row] = options.lock ? await query.for("update") : await query;
  if (!row || row.principal !== principal) throw notFound();
  const field = deps.registry.get(row.fieldId);
  const capability = field?.storage.multipart;
  if (!field || !capability) throw notFound();
  if (row.status !== "pending") {
    throw new AsyncUploadsError("invalid_upload", "This upload was canceled or already saved. Please choose the file again.");
  }
  if (row.expiresAt.getTime() <= deps.now().getTime()) {
    throw new AsyncUploadsError("invalid_upload", "This upload has expired. Please choose the file again.");
  }
  return { row, field, capability, state: multipartStateOf(row) };
}

/** The state of an upload that must still take parts; a completed (or single-request) upload takes none. */
export function requireOpen(upload: OpenUpload): MultipartState {
  if (!upload.state) throw new AsyncUploadsError("invalid_upload", "This upload is complete and takes no more parts.");
  return upload.state;
}

/** The storage lost the upload (an abort, a lifecycle rule): it cannot be continued. */
export function abandoned(): AsyncUploadsError {
  return new AsyncUploadsError("invalid_upload", "This upload was abandoned by the storage. Please choose the file again.");
}
