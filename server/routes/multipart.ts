import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { partCountOf, partRange, type CompleteMultipartResponse, type ListPartsResponse, type SignPartsResponse } from "../../shared/multipart.js";
import { completeMultipartRequestSchema, multipartKeyRequestSchema, signPartsRequestSchema } from "../../shared/multipart-schemas.js";
import { asyncTempFile } from "../db/schema.js";
import { AsyncUploadsError } from "../errors.js";
import { checkPartList } from "../multipart/check-parts.js";
import { abandoned, loadUpload, requireOpen, type OpenUpload } from "../multipart/open-upload.js";
import { MULTIPART_ASSEMBLED } from "../multipart/plan.js";
import { mountPointOf, urlContextFor, type RouteDeps, type RoutesEnv } from "./deps.js";
import { jsonBody, requirePrincipal, sameOriginJson, smallBody } from "./guards.js";

/** A complete request lists up to 10,000 parts with their ETags: about 600 KB at most. */
const MAX_COMPLETE_BODY_BYTES = 1024 * 1024;
const NO_STORE = { "Cache-Control": "no-store" };

/**
 * `{base}/multipart/…`, the JSON routes of chunked uploads (`shared/multipart.ts`): part URLs on
 * demand, the parts storage holds (to resume), completion after the part list was checked, and
 * cancel. Same guards as `upload-url`, and only the principal who started an upload may touch it.
 */
export function multipartRoutes(deps: RouteDeps): Hono<RoutesEnv> {
  const app = new Hono<RoutesEnv>();
  const sameOrigin = sameOriginJson(deps.allowedOrigins);
  const upload = async (c: Parameters<typeof requirePrincipal>[0], key: string) =>
    loadUpload(deps.db, deps, key, await requirePrincipal(c, deps.getPrincipal));

  app.post("/sign-parts", sameOrigin, smallBody(), jsonBody(signPartsRequestSchema), async (c) => {
    const request = c.req.valid("json");
    const open = await upload(c, request.key);
    const state = requireOpen(open);
    const size = open.row.declaredSize;
    const partCount = partCountOf(size, state.partSize);
    const beyond = request.partNumbers.find((n) => n > partCount);
    if (beyond) throw new AsyncUploadsError("invalid_request", `This upload has ${partCount} parts; there is no part ${beyond}.`);
    // Short-lived like every upload URL, and never beyond the upload's own end.
    const expiresAt = new Date(Math.min(deps.now().getTime() + deps.uploadUrlLifetimeMs, open.row.expiresAt.getTime()));
    const parts = await open.capability.signParts(
      {
        key: open.row.key,
        uploadId: state.uploadId,
        parts: request.partNumbers.map((partNumber) => ({ partNumber, ...partRange(partNumber, state.partSize, size) })),
        expiresAt,
      },
      urlContextFor(deps, mountPointOf(c), open.field.id),
    );
    const body: SignPartsResponse = { parts, expiresAt: expiresAt.toISOString() };
    return c.json(body, 200, NO_STORE);
  });

  app.post("/list-parts", sameOrigin, smallBody(), jsonBody(multipartKeyRequestSchema), async (c) => {
    const request = c.req.valid("json");
    const open = await upload(c, request.key);
    const state = requireOpen(open);
    const staged = await open.capability.listParts(open.row.key, state.uploadId);
    if (!staged) throw abandoned();
    const partCount = partCountOf(open.row.declaredSize, state.partSize);
    const body: ListPartsResponse = {
      parts: staged.filter((part) => part.partNumber <= partCount),
      partSize: state.partSize,
      partCount,
      expiresAt: open.row.expiresAt.toISOString(),
    };
    return c.json(body, 200, NO_STORE);
  });

  app.post("/complete", sameOrigin, smallBody(MAX_COMPLETE_BODY_BYTES), jsonBody(completeMultipartRequestSchema), async (c) => {
    const request = c.req.valid("json");
    const principal = await requirePrincipal(c, deps.getPrincipal);
    // Under the row lock: a second completion (a retry whose first answer was lost) waits, then
    // finds the upload complete and answers the same.
    const key = await deps.db.transaction(async (tx) => {
      const open = await loadUpload(tx, deps, request.key, principal, { lock: true });
      const finished = () => tx.update(asyncTempFile).set(MULTIPART_ASSEMBLED).where(eq(asyncTempFile.id, open.row.id));
      if (!open.state) {
        if (await isAssembled(open)) return open.row.key;
        throw new AsyncUploadsError("invalid_upload", "This upload has no parts to assemble. Please choose the file again.");
      }
      const staged = await open.capability.listParts(open.row.key, open.state.uploadId);
      // No parts left but the whole object there: an earlier completion whose answer was lost (S3
      // forgets a completed upload; Azure and the filesystem consume their parts).
      if ((!staged || staged.length === 0) && (await isAssembled(open))) {
        await finished();
        return open.row.key;
      }
      if (!staged) throw abandoned();
      const checked = checkPartList(request.parts, staged, {
        size: open.row.declaredSize,
        partSize: open.state.partSize,
        minPartSize: open.capability.minPartSize,
      });
      if (!checked.ok) throw new AsyncUploadsError("invalid_upload", checked.reason);
      await open.capability.complete({
        key: open.row.key,
        uploadId: open.state.uploadId,
        contentType: open.row.contentType,
        size: open.row.declaredSize,
        parts: checked.parts,
      });
      await finished();
      return open.row.key;
    });
    const body: CompleteMultipartResponse = { key };
    return c.json(body, 200, NO_STORE);
  });

  app.post("/abort", sameOrigin, smallBody(), jsonBody(multipartKeyRequestSchema), async (c) => {
    const request = c.req.valid("json");
    const principal = await requirePrincipal(c, deps.getPrincipal);
    // The row is marked first: from then on nothing can complete, save or add a part to it.
    const open = await deps.db.transaction(async (tx) => {
      const found = await loadUpload(tx, deps, request.key, principal, { lock: true });
      await tx.update(asyncTempFile).set({ status: "canceled" }).where(eq(asyncTempFile.id, found.row.id));
      return found;
    });
    // Then whatever was stored goes at once, staged parts and the object alike (an upload canceled
    // after its parts were assembled, or a single upload that already arrived): canceling frees the
    // principal's pending slot, so keeping the bytes until cleanup would let upload → cancel loops
    // store without bound. The canceled row stays with its upload id until cleanup-temp-files removes
    // it: a repeat of both calls (nothing left, unless a part was still in flight, which S3 allows),
    // or the whole job should the storage fail here.
    try {
      if (open.state) await open.capability.abort(open.row.key, open.state.uploadId);
      await open.field.storage.delete(open.row.key);
    } catch (error) {
      deps.log(`canceling the upload "${open.row.key}" failed; cleanup-temp-files will finish it`, error);
    }
    return c.body(null, 204, NO_STORE);
  });

  return app;
}

/** The object is at its key with the declared size (commit checks its content). */
async function isAssembled(open: OpenUpload): Promise<boolean> {
  const info = await open.field.storage.stat(open.row.key);
  return info !== null && info.size === open.row.declaredSize;
}
