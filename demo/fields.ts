import { and, eq } from "drizzle-orm";
import { createAsyncUploads, MiB, type AsyncUploads, type AsyncUploadsOptions, type Database, type StorageDriver } from "async-uploads/server";
import { registerDemoExports } from "./exports";
import { demoScanStep } from "./scan-step";
import { documents } from "./schema";
import { readSession, sessionKey } from "./session";

export const ATTACHMENT_FIELD = "documents.attachment";
export const COVER_FIELD = "documents.cover";
export const ATTACHMENT_MAX_SIZE = 50 * MiB;
export const COVER_MAX_SIZE = 5 * MiB;
/** Raster images only: SVG can carry script, so it is left out on purpose. */
export const COVER_ACCEPT = ["image/png", "image/jpeg", "image/webp", "image/gif"] as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a string that can be a document id; anything else is "no such document", never a SQL error. */
export function isDocumentId(value: string | undefined): value is string {
  return value !== undefined && UUID.test(value);
}

export interface DemoUploadsOptions {
  db: Database;
  storage: StorageDriver;
  secret: string;
  /** Extra settings (lifetimes, clock) for tests. */
  overrides?: Partial<Omit<AsyncUploadsOptions, "db" | "storage" | "secret">>;
  /**
   * Runs the stand-in virus scan (`scan-step.ts`) on every attachment, taking this many seconds, so the
   * form shows Checking → Scanning for viruses → Ready live; needs `await uploads.start()`. `npm start`
   * sets 1.5. Absent: no processing and no job worker, as before.
   */
  scanSeconds?: number;
  /** The CSV export's pause per 500 rows (demo/exports.ts); tests set 0. @default 50 */
  exportPauseMs?: number;
}

/**
 * The demo's uploads: the principal is the anonymous session, and both fields of a document may be
 * uploaded to, downloaded and resolved only by the session that owns it. Used by the web app and by
 * the cleanup command (through `uploads-config.ts`), so both run with one configuration.
 */
export function createDemoUploads({ db, storage, secret, overrides, scanSeconds, exportPauseMs }: DemoUploadsOptions): AsyncUploads {
  const cookieKey = sessionKey(secret);
  const uploads = createAsyncUploads({
    db,
    secret,
    storage,
    getPrincipal: (c) => readSession(c, cookieKey),
    ...overrides,
  });

  const ownsDocument = async (principal: string, instanceId: string | undefined): Promise<boolean> => {
    if (!isDocumentId(instanceId)) return false;
    const [row] = await db
      .select({ id: documents.id })
      .from(documents)
      .where(and(eq(documents.id, instanceId), eq(documents.owner, principal)));
    return row !== undefined;
  };
  const keyOf = (column: typeof documents.attachmentKey | typeof documents.coverKey) => async ({ instanceId }: { instanceId: string }) => {
    if (!isDocumentId(instanceId)) return null;
    const [row] = await db.select({ key: column }).from(documents).where(eq(documents.id, instanceId));
    return row?.key ?? null;
  };
  // A new document has no id yet when its form is first shown, so uploads without one are allowed;
  // commit binds them to the document's id when the form is saved.
  const canUpload = ({ principal, instanceId }: { principal: string; instanceId?: string }) =>
    instanceId === undefined ? true : ownsDocument(principal, instanceId);
  const canDownload = ({ principal, instanceId }: { principal: string; instanceId: string }) => ownsDocument(principal, instanceId);

  uploads.registry.register(ATTACHMENT_FIELD, {
    maxSize: ATTACHMENT_MAX_SIZE,
    uploadTo: ({ instanceId, fileId, filename }) => `documents/${instanceId ?? "new"}/attachment/${fileId}/${filename}`,
    canUpload,
    canDownload,
    resolveKey: keyOf(documents.attachmentKey),
    ...(scanSeconds ? { processing: [demoScanStep(scanSeconds)] } : {}),
  });
  uploads.registry.register(COVER_FIELD, {
    maxSize: COVER_MAX_SIZE,
    accept: COVER_ACCEPT,
    uploadTo: ({ instanceId, fileId, filename }) => `documents/${instanceId ?? "new"}/cover/${fileId}/${filename}`,
    canUpload,
    canDownload,
    resolveKey: keyOf(documents.coverKey),
  });
  // "Export all documents as CSV" (issue 15): served now for a few rows, built in the background above.
  registerDemoExports(uploads, db, exportPauseMs === undefined ? {} : { pauseMs: exportPauseMs });
  return uploads;
}
