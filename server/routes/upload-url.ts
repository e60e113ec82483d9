import { Hono } from "hono";
import { extensionOf, matchesAccept } from "../../shared/accept.js";
import { formatBytes } from "../../shared/format-bytes.js";
import type { MultipartUploadUrlResponse } from "../../shared/multipart.js";
import {
  MAX_UPLOAD_URL_BATCH,
  uploadUrlBatchRequestSchema,
  uploadUrlRequestSchema,
  type UploadUrlBatchRefusal,
  type UploadUrlRequest,
  type UploadUrlResponse,
} from "../../shared/schemas.js";
import { AsyncUploadsError } from "../errors.js";
import { makeTempKey } from "../keys.js";
import { startMultipartUpload, wantsMultipart } from "../multipart/plan.js";
import type { Field } from "../registry.js";
import { mountPointOf, urlContextFor, type RouteDeps, type RoutesEnv } from "./deps.js";
import { insertWithinPendingLimits, type PendingRow } from "./pending-insert.js";
import { limitsFor, refuseFileOverPendingLimits, refuseOverPendingLimits, type PendingLimits } from "./pending-limits.js";
import { parseBody, requirePrincipal, sameOriginJson, smallBody } from "./guards.js";
import { readJsonBody } from "./json-body.js";

/** A file's request that passed its field's checks. */
interface CheckedFile {
  request: UploadUrlRequest;
  field: Field;
}

/** One file's answer, and the row that records it as pending. */
interface Issued {
  answer: UploadUrlResponse | MultipartUploadUrlResponse;
  row: PendingRow;
}

/** A batch body lists up to `MAX_UPLOAD_URL_BATCH` requests of a few hundred bytes each (README: 64 KiB). */
const MAX_BATCH_BODY_BYTES = 64 * 1024;

/** One file's body, or a batch (`{files: [...]}`), each validated with its shared schema. */
function parseUploadUrlBody(value: unknown) {
  return typeof value === "object" && value !== null && "files" in value
    ? parseBody(uploadUrlBatchRequestSchema, value)
    : parseBody(uploadUrlRequestSchema, value);
}

/**
 * `POST {base}/upload-url`: checks each file against its field, then issues either a single upload
 * (one signed target for the whole file) or a chunked one (parts signed later through `multipart/`).
 * A batch (`{files: [...]}` → `{uploads: [...]}`) is all or nothing: one refused file refuses the
 * request (every refused file named in `error.files`), and all its rows are inserted in one statement
 * within the limits on unsaved uploads, counted for the batch as a whole.
 */
export function uploadUrlRoutes(deps: RouteDeps): Hono<RoutesEnv> {
  const app = new Hono<RoutesEnv>();

  app.post("/", sameOriginJson(deps.allowedOrigins), smallBody(MAX_BATCH_BODY_BYTES), async (c) => {
    const body = parseUploadUrlBody(await readJsonBody(c, MAX_BATCH_BODY_BYTES));
    const principal = await requirePrincipal(c, deps.getPrincipal);
    const batch = "files" in body;
    const files = batch ? await filesAccepting(deps, body.files, principal) : [await fileAccepting(deps, body, principal)];
    const answers = await issueUploads(deps, files, principal, mountPointOf(c));
    return c.json(batch ? { uploads: answers } : answers[0], 201, { "Cache-Control": "no-store" });
  });

  return app;
}

/** The field the request names, once the principal may upload to it and the file's size and type fit. */
async function fileAccepting(deps: RouteDeps, request: UploadUrlRequest, principal: string): Promise<CheckedFile> {
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
  return { request, field };
}

/** Every file of a batch checked; if any is refused, the whole batch is, naming each refused file. */
async function filesAccepting(deps: RouteDeps, requests: UploadUrlRequest[], principal: string): Promise<CheckedFile[]> {
  const results = await Promise.allSettled(requests.map((request) => fileAccepting(deps, request, principal)));
  const refusals: UploadUrlBatchRefusal[] = [];
  results.forEach((result, index) => {
    if (result.status === "fulfilled") return;
    if (!(result.reason instanceof AsyncUploadsError)) throw result.reason;
    refusals.push({ index, code: result.reason.code, message: result.reason.message });
  });
  if (refusals.length > 0) throw new BatchRefusedError(requests, refusals);
  return results.map((result) => (result as PromiseFulfilledResult<CheckedFile>).value);
}

/** A batch refused for some of its files: the first one's code, a message naming each, and `error.files`. */
class BatchRefusedError extends AsyncUploadsError {
  readonly files: UploadUrlBatchRefusal[];

  constructor(requests: UploadUrlRequest[], files: UploadUrlBatchRefusal[]) {
    const named = files.map(({ index, message }) => `"${requests[index]!.filename}" (file ${index + 1}): ${message}`);
    super(files[0]!.code as AsyncUploadsError["code"], `No file was accepted, because ${files.length === 1 ? "one was" : `${files.length} were`} refused. ${named.join(" ")}`);
    this.files = files;
  }

  override toBody() {
    const body = super.toBody();
    return { error: { ...body.error, files: this.files } };
  }
}

/**
 * Signs (or, for a large file, starts at the storage) every file's upload, then records them all as
 * pending in one statement, within the limits on unsaved uploads for all of them together.
 */
async function issueUploads(deps: RouteDeps, files: CheckedFile[], principal: string, mountPoint: string) {
  const now = deps.now();
  const limits = strictestLimits(deps, files);
  if (files.some(({ field, request }) => wantsMultipart(field, request))) {
    // Starting a chunked upload has a side effect at the storage, so a principal over the limit is
    // refused before it; the check that counts is the locked one as the rows are inserted.
    const bytes = files.reduce((sum, { request }) => sum + request.size, 0);
    await refuseOverPendingLimits(deps.db, deps, files[0]!.field, principal, bytes, now);
  }
  // Signing has no side effects, so a driver failure leaves no row behind. Should the insert refuse a
  // chunked upload, the bucket's lifecycle rule for incomplete uploads removes it (no parts were sent).
  const issued = await Promise.all(
    files.map((file) => (wantsMultipart(file.field, file.request) ? issueChunkedUpload(deps, file, now) : issueSingleUpload(deps, file, now, mountPoint))),
  );
  await insertWithinPendingLimits(deps.db, limits, principal, issued.map(({ row }) => row), now);
  return issued.map(({ answer, row }) => ({ ...answer, ...processingOf(deps, row, principal) }));
}

/** One signed target the browser sends the whole file to, valid for the upload URL lifetime. */
async function issueSingleUpload(deps: RouteDeps, { request, field }: CheckedFile, now: Date, mountPoint: string): Promise<Issued> {
  const row = pendingRow(deps, request, field, now);
  const expiresAt = new Date(now.getTime() + deps.uploadUrlLifetimeMs);
  const upload = await field.storage.createUploadTarget(
    { key: row.key, contentType: request.contentType, size: request.size, expiresAt },
    urlContextFor(deps, mountPoint, field.id),
  );
  return { row, answer: { key: row.key, upload, expiresAt: expiresAt.toISOString() } };
}

/** A chunked upload started at the storage; the browser asks for its part URLs through `multipart/sign-parts`. */
async function issueChunkedUpload(deps: RouteDeps, { request, field }: CheckedFile, now: Date): Promise<Issued> {
  const pending = pendingRow(deps, request, field, now);
  const key = pending.key;
  const { plan, state } = await startMultipartUpload(field, { key, contentType: request.contentType, size: request.size });
  const row = { ...pending, uploadId: state.uploadId, partSize: state.partSize };
  // A chunked upload can be continued (resumed) until the row expires, not just for one URL's lifetime.
  return { row, answer: { key, multipart: plan, expiresAt: row.expiresAt.toISOString() } };
}

/** The `async_temp_file` row of an upload, kept until commit or cleanup. */
function pendingRow(deps: RouteDeps, request: UploadUrlRequest, field: Field, now: Date): PendingRow {
  const id = crypto.randomUUID();
  return {
    id,
    key: makeTempKey(deps.tempPrefix, id, request.filename, now),
    fieldId: field.id,
    instanceId: request.instanceId ?? null,
    originalFilename: request.filename.normalize("NFC"),
    contentType: request.contentType.toLowerCase(),
    declaredSize: request.size,
    uploadId: null,
    partSize: null,
    expiresAt: new Date(now.getTime() + deps.tempFileLifetimeMs),
  };
}

/** The limits that hold for every file of the request (fields with larger files have larger defaults). */
function strictestLimits(deps: RouteDeps, files: CheckedFile[]): PendingLimits {
  const all = files.map(({ field }) => limitsFor(deps, field));
  return {
    uploads: Math.min(...all.map((limits) => limits.uploads)),
    bytesPerPrincipal: Math.min(...all.map((limits) => limits.bytesPerPrincipal)),
    bytes: Math.min(...all.map((limits) => limits.bytes)),
  };
}

/** `processing` of the answer, for a field with processing steps: what to follow on the events stream. */
function processingOf(deps: RouteDeps, row: PendingRow, principal: string) {
  const field = deps.registry.get(row.fieldId);
  const processing = field && deps.processing?.plan(field, row.id, principal);
  return processing ? { processing } : {};
}
