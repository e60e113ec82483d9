import { and, count, eq, gt, sql } from "drizzle-orm";
import { Hono } from "hono";
import { extensionOf, matchesAccept } from "../../shared/accept.js";
import { formatBytes } from "../../shared/format-bytes.js";
import type { MultipartUploadUrlResponse } from "../../shared/multipart.js";
import { uploadUrlRequestSchema, type UploadUrlResponse } from "../../shared/schemas.js";
import type { Database } from "../db/database.js";
import { asyncTempFile } from "../db/schema.js";
import { AsyncUploadsError } from "../errors.js";
import { makeTempKey } from "../keys.js";
import { startMultipartUpload, wantsMultipart } from "../multipart/plan.js";
import { basePathOf, urlContextFor, type RouteDeps } from "./deps.js";
import { parseBody, readJson, requirePrincipal, sameOriginJson, smallBody } from "./guards.js";

/** `POST {base}/upload-url`: checks the request against the field and issues a direct upload target. */
export function uploadUrlRoutes(deps: RouteDeps): Hono {
  const app = new Hono();

  app.post("/upload-url", sameOriginJson(deps.allowedOrigins), smallBody(), async (c) => {
    const request = parseBody(uploadUrlRequestSchema, await readJson(c));
    const principal = await requirePrincipal(c, deps.getPrincipal);
    const field = deps.registry.get(request.fieldId);
    if (!field) throw new AsyncUploadsError("unknown_field", `There is no upload field "${request.fieldId}".`);
    const allowed = await field.canUpload({ principal, instanceId: request.instanceId, fieldId: field.id });
    if (!allowed) throw new AsyncUploadsError("forbidden", "You may not upload files to this field.");
    if (request.size > field.maxSize) {
      throw new AsyncUploadsError("file_too_large", `The file is larger than the ${formatBytes(field.maxSize)} allowed here.`);
    }
    const declared = { mime: request.contentType.toLowerCase(), extension: extensionOf(request.filename) };
    if (!matchesAccept(field.accept, declared)) {
      throw new AsyncUploadsError("type_not_allowed", `This kind of file is not accepted here (allowed: ${field.accept.join(", ")}).`);
    }

    const now = deps.now();
    const chunked = wantsMultipart(field, request);
    // Starting a chunked upload has a side effect at the storage, so a principal over the limit is
    // refused before it; the check that counts is the locked one below.
    if (chunked) await refuseFloods(deps.db, deps, principal, now);
    const id = crypto.randomUUID();
    const key = makeTempKey(deps.tempPrefix, id, request.filename, now);
    const expiresAt = new Date(now.getTime() + deps.uploadUrlLifetimeMs);
    // Signing first: it has no side effects, so a driver failure leaves no row behind. A chunked upload
    // is started at the storage instead; should the insert below refuse it, the bucket's lifecycle
    // rule for incomplete uploads removes it (no parts can have been sent).
    const multipart = chunked
      ? await startMultipartUpload(field, { key, contentType: request.contentType, size: request.size })
      : null;
    const upload = multipart
      ? null
      : await field.storage.createUploadTarget(
          { key, contentType: request.contentType, size: request.size, expiresAt },
          urlContextFor(deps, basePathOf(c, "/upload-url"), field.id),
        );
    await deps.db.transaction(async (tx) => {
      // Count and insert under a per-principal lock: without it, requests sent all at once each
      // count the same few rows and all insert, and the limit holds for none of them.
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext('async_temp_file.pending'), hashtext(${principal}))`);
      await refuseFloods(tx, deps, principal, now);
      await tx.insert(asyncTempFile).values({
        id,
        key,
        fieldId: field.id,
        principal,
        instanceId: request.instanceId ?? null,
        originalFilename: request.filename.normalize("NFC"),
        contentType: request.contentType.toLowerCase(),
        declaredSize: request.size,
        uploadId: multipart?.state.uploadId ?? null,
        partSize: multipart?.state.partSize ?? null,
        expiresAt: new Date(now.getTime() + deps.tempFileLifetimeMs),
      });
    });
    if (multipart) {
      // A chunked upload can be continued (resumed) until the row expires, not just for one URL's lifetime.
      const uploadExpiresAt = new Date(now.getTime() + deps.tempFileLifetimeMs).toISOString();
      const body: MultipartUploadUrlResponse = { key, multipart: multipart.plan, expiresAt: uploadExpiresAt };
      return c.json(body, 201, { "Cache-Control": "no-store" });
    }
    const body: UploadUrlResponse = { key, upload: upload!, expiresAt: expiresAt.toISOString() };
    return c.json(body, 201, { "Cache-Control": "no-store" });
  });

  return app;
}

/** A principal may hold only so many uncommitted uploads; this bounds what one person can make us store. */
async function refuseFloods(db: Database, deps: RouteDeps, principal: string, now: Date): Promise<void> {
  const [row] = await db
    .select({ pending: count() })
    .from(asyncTempFile)
    .where(and(eq(asyncTempFile.principal, principal), eq(asyncTempFile.status, "pending"), gt(asyncTempFile.expiresAt, now)));
  if ((row?.pending ?? 0) >= deps.maxPendingUploadsPerPrincipal) {
    throw new AsyncUploadsError("too_many_uploads", "Too many unsaved uploads. Save or discard your forms, then try again.");
  }
}
