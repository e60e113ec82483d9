import { Hono } from "hono";
import { extensionOf, matchesAccept } from "../../shared/accept.js";
import { formatBytes } from "../../shared/format-bytes.js";
import type { MultipartUploadUrlResponse } from "../../shared/multipart.js";
import { uploadUrlRequestSchema, type UploadUrlRequest, type UploadUrlResponse } from "../../shared/schemas.js";
import { AsyncUploadsError } from "../errors.js";
import { makeTempKey } from "../keys.js";
import { startMultipartUpload, wantsMultipart, type MultipartState } from "../multipart/plan.js";
import type { Field } from "../registry.js";
import { mountPointOf, urlContextFor, type RouteDeps, type RoutesEnv } from "./deps.js";
import { insertWithinPendingLimits } from "./pending-insert.js";
import { limitsFor, refuseFileOverPendingLimits, refuseOverPendingLimits } from "./pending-limits.js";
import { jsonBody, requirePrincipal, sameOriginJson, smallBody } from "./guards.js";

/** A request that passed the field's checks: who asks, for which field, and where our routes are mounted. */
interface CheckedRequest {
  request: UploadUrlRequest;
  principal: string;
  field: Field;
  mountPoint: string;
}

/**
 * `POST {base}/upload-url`: checks the request against the field, then issues either a single upload
 * (one signed target for the whole file) or a chunked one (parts signed later through `multipart/`).
 */
export function uploadUrlRoutes(deps: RouteDeps): Hono<RoutesEnv> {
  const app = new Hono<RoutesEnv>();

  app.post("/", sameOriginJson(deps.allowedOrigins), smallBody(), jsonBody(uploadUrlRequestSchema), async (c) => {
    const request = c.req.valid("json");
    const principal = await requirePrincipal(c, deps.getPrincipal);
    const field = await fieldAccepting(deps, request, principal);
    const checked = { request, principal, field, mountPoint: mountPointOf(c) };
    const body = wantsMultipart(field, request) ? await issueChunkedUpload(deps, checked) : await issueSingleUpload(deps, checked);
    return c.json(body, 201, { "Cache-Control": "no-store" });
  });

  return app;
}

/** The field the request names, once the principal may upload to it and the file's size and type fit. */
async function fieldAccepting(deps: RouteDeps, request: UploadUrlRequest, principal: string): Promise<Field> {
  const field = deps.registry.get(request.fieldId);
  if (!field) throw new AsyncUploadsError("unknown_field", `There is no upload field "${request.fieldId}".`);
  const allowed = await field.canUpload({ principal, instanceId: request.instanceId, fieldId: field.id });
  if (!allowed) throw new AsyncUploadsError("forbidden", "You may not upload files to this field.");
  if (request.size > field.maxSize) {
    throw new AsyncUploadsError("file_too_large", `The file is larger than the ${formatBytes(field.maxSize)} allowed here.`);
  }
  refuseFileOverPendingLimits(deps, field, request.size);
  const declared = { mime: request.contentType.toLowerCase(), extension: extensionOf(request.filename) };
  if (!matchesAccept(field.accept, declared)) {
    throw new AsyncUploadsError("type_not_allowed", `This kind of file is not accepted here (allowed: ${field.accept.join(", ")}).`);
  }
  return field;
}

/** One signed target the browser sends the whole file to, valid for the upload URL lifetime. */
async function issueSingleUpload(deps: RouteDeps, { request, principal, field, mountPoint }: CheckedRequest): Promise<UploadUrlResponse> {
  const now = deps.now();
  const id = crypto.randomUUID();
  const key = makeTempKey(deps.tempPrefix, id, request.filename, now);
  const expiresAt = new Date(now.getTime() + deps.uploadUrlLifetimeMs);
  // Signing first: it has no side effects, so a driver failure leaves no row behind.
  const upload = await field.storage.createUploadTarget(
    { key, contentType: request.contentType, size: request.size, expiresAt },
    urlContextFor(deps, mountPoint, field.id),
  );
  await insertPendingUpload(deps, { id, key, request, principal, field, now, multipart: null });
  return { key, upload, expiresAt: expiresAt.toISOString(), ...processingOf(deps, field, id, principal) };
}

/** A chunked upload started at the storage; the browser asks for its part URLs through `multipart/sign-parts`. */
async function issueChunkedUpload(deps: RouteDeps, { request, principal, field }: CheckedRequest): Promise<MultipartUploadUrlResponse> {
  const now = deps.now();
  // Starting a chunked upload has a side effect at the storage, so a principal over the limit is
  // refused before it; the check that counts is the locked one in `insertPendingUpload`.
  await refuseOverPendingLimits(deps.db, deps, field, principal, request.size, now);
  const id = crypto.randomUUID();
  const key = makeTempKey(deps.tempPrefix, id, request.filename, now);
  // Should the insert below refuse it, the bucket's lifecycle rule for incomplete uploads removes it
  // (no parts can have been sent).
  const { plan, state } = await startMultipartUpload(field, { key, contentType: request.contentType, size: request.size });
  const row = await insertPendingUpload(deps, { id, key, request, principal, field, now, multipart: state });
  // A chunked upload can be continued (resumed) until the row expires, not just for one URL's lifetime.
  return { key, multipart: plan, expiresAt: row.expiresAt.toISOString(), ...processingOf(deps, field, id, principal) };
}

/** Records the upload as pending (what commit and cleanup work from), within the limits on unsaved uploads. */
async function insertPendingUpload(
  deps: RouteDeps,
  upload: { id: string; key: string; request: UploadUrlRequest; principal: string; field: Field; now: Date; multipart: MultipartState | null },
): Promise<{ expiresAt: Date }> {
  const { id, key, request, principal, field, now, multipart } = upload;
  const expiresAt = new Date(now.getTime() + deps.tempFileLifetimeMs);
  await insertWithinPendingLimits(deps.db, limitsFor(deps, field), principal, [
    {
      id,
      key,
      fieldId: field.id,
      instanceId: request.instanceId ?? null,
      originalFilename: request.filename.normalize("NFC"),
      contentType: request.contentType.toLowerCase(),
      declaredSize: request.size,
      uploadId: multipart?.uploadId ?? null,
      partSize: multipart?.partSize ?? null,
      expiresAt,
    },
  ], now);
  return { expiresAt };
}

/** `processing` of the answer, for a field with processing steps: what to follow on the events stream. */
function processingOf(deps: RouteDeps, field: Field, fileId: string, principal: string) {
  const processing = deps.processing?.plan(field, fileId, principal);
  return processing ? { processing } : {};
}
