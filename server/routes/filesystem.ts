import { eq } from "drizzle-orm";
import { Hono, type Context } from "hono";
import type { Readable } from "node:stream";
import { partRange } from "../../shared/multipart.js";
import { asyncTempFile } from "../db/schema.js";
import { AsyncUploadsError } from "../errors.js";
import { multipartStateOf } from "../multipart/plan.js";
import { contentDisposition } from "../storage/content-disposition.js";
import { FilesystemError, isFilesystemStorage, type FilesystemStorage } from "../storage/filesystem.js";
import { releaseChunksOnceWritten } from "../storage/filesystem-write.js";
import { verifyToken } from "../tokens.js";
import { ifRangeMatches, parseRange, type RangeAnswer } from "./byte-range.js";
import { takeNodeBody } from "./request-body.js";
import type { RouteDeps, RoutesEnv } from "./deps.js";

/**
 * `{base}/fs/…`, the filesystem backend's own routes: upload, upload of one part of a chunked upload,
 * and download. They are authorised by the signed token (purpose, field, key, sizes, type, expiry),
 * just as S3 or Azure trust their signed URLs; an upload or a part also needs its row to be still
 * open, which S3 and Azure cannot check.
 */
export function filesystemRoutes(deps: RouteDeps): Hono<RoutesEnv> {
  const app = new Hono<RoutesEnv>();

  app.put("/upload/:token", async (c) => {
    const claims = verifyToken(c.req.param("token"), deps.secret, "upload", deps.now().getTime());
    const storage = filesystemStorageOf(deps, claims.fieldId);
    // The token outlives its upload: once saved (and the temp file deleted) or swept by cleanup, a
    // replayed PUT would store a file that no row tracks and nothing would ever delete.
    const [row] = await deps.db
      .select({ status: asyncTempFile.status, fieldId: asyncTempFile.fieldId })
      .from(asyncTempFile)
      .where(eq(asyncTempFile.key, claims.key));
    if (!row || row.fieldId !== claims.fieldId) throw new AsyncUploadsError("invalid_token", "This upload link is no longer valid; ask for a new one.");
    if (row.status !== "pending") throw new AsyncUploadsError("already_uploaded", "This upload was already saved or canceled; ask for a new link.");
    const contentType = c.req.header("content-type")?.toLowerCase();
    if (contentType !== claims.contentType.toLowerCase()) {
      throw new AsyncUploadsError("invalid_request", `Send the file with Content-Type: ${claims.contentType}.`);
    }
    const length = c.req.header("content-length");
    if (length !== undefined && Number(length) > claims.size) {
      throw new AsyncUploadsError("file_too_large", "The body is larger than the size this upload was issued for.");
    }
    const body = streamedBody(c);
    if (!body) throw new AsyncUploadsError("invalid_request", "The request has no body.");
    try {
      await storage.write(claims.key, body, { size: claims.size });
    } catch (error) {
      // A dropped connection is the uploader's to retry, not a server error: nothing was kept.
      if (await connectionLost(c.req.raw)) throw new AsyncUploadsError("invalid_request", "The connection was lost before the file arrived whole.", { cause: error });
      rethrowRefusal(error);
    }
    // Canceled (or swept) while the bytes arrived: the cancel deleted nothing yet, and nothing else would before cleanup.
    if (!(await isStillWanted(deps, claims.key))) {
      await storage.delete(claims.key).catch((error: unknown) => {
        deps.log(`removing "${claims.key}", canceled while it arrived, failed; cleanup-temp-files will finish it`, error);
      });
      throw new AsyncUploadsError("already_uploaded", "This upload was canceled while the file arrived; ask for a new link.");
    }
    return c.body(null, 201);
  });

  // One part of a chunked upload: the token names the upload, the part and its exact byte range. The
  // part is taken only while the upload is open (not completed, canceled or expired), so a leaked part
  // URL cannot add files after the fact.
  app.put("/upload-part/:token", async (c) => {
    const claims = verifyToken(c.req.param("token"), deps.secret, "upload-part", deps.now().getTime());
    const storage = filesystemStorageOf(deps, claims.fieldId);
    const length = c.req.header("content-length");
    if (length !== undefined && Number(length) > claims.size) {
      throw new AsyncUploadsError("file_too_large", `The body is larger than part ${claims.partNumber} (${claims.size} bytes).`);
    }
    const [row] = await deps.db.select().from(asyncTempFile).where(eq(asyncTempFile.key, claims.key));
    const state = row ? multipartStateOf(row) : null;
    const open = row?.status === "pending" && row.expiresAt.getTime() > deps.now().getTime() && state?.uploadId === claims.uploadId;
    if (!row || !state || !open) {
      throw new AsyncUploadsError("already_uploaded", "This upload is complete, canceled or expired; it takes no more parts.");
    }
    const range = partRange(claims.partNumber, state.partSize, row.declaredSize);
    if (range.offset !== claims.offset || range.size !== claims.size) throw new AsyncUploadsError("invalid_token", "This part link does not match its upload.");
    const body = streamedBody(c);
    if (!body) throw new AsyncUploadsError("invalid_request", "The request has no body.");
    let failure: unknown = null;
    try {
      await storage.multipart.writePart(claims.key, claims.partNumber, body, claims.size);
    } catch (error) {
      // A dropped connection is what chunked uploads are for, not a server error: nothing was kept,
      // and the browser sends the part again.
      if (await connectionLost(c.req.raw)) throw new AsyncUploadsError("invalid_request", "The connection was lost before the part arrived whole.");
      if (error instanceof FilesystemError && error.kind !== "gone") rethrowRefusal(error);
      failure = error;
    }
    // `complete` or a cancel may have run while the part streamed in and removed the parts: this one
    // went with them (its write failed) or came after them, and nothing would ever remove it.
    if (!(await stillTakesParts(deps, claims.key, claims.uploadId))) {
      await storage.multipart.abort(claims.key, claims.uploadId).catch((error: unknown) => {
        deps.log(`removing a part that arrived after "${claims.key}" was completed or canceled failed; cleanup-temp-files will finish it`, error);
      });
      throw new AsyncUploadsError("already_uploaded", "This upload is complete, canceled or expired; it takes no more parts.", { cause: failure ?? undefined });
    }
    if (failure !== null) rethrowRefusal(failure);
    return c.body(null, 201);
  });

  // Answers Range (one range, RFC 9110 §14), so an interrupted download of a large file resumes;
  // see byte-range.ts for what is ignored (several ranges: the whole file) and If-Range.
  app.get("/download/:token", async (c) => {
    const claims = verifyToken(c.req.param("token"), deps.secret, "download", deps.now().getTime());
    const storage = filesystemStorageOf(deps, claims.fieldId);
    let answer: RangeAnswer = { kind: "whole" };
    const file = await storage.read(claims.key, (about) => {
      const validators = { etag: about.etag, lastModified: about.modifiedAt.toUTCString() };
      answer = ifRangeMatches(c.req.header("if-range"), validators) ? parseRange(c.req.header("range"), about.size) : { kind: "whole" };
      return answer.kind === "partial" ? { start: answer.start, end: answer.end } : null;
    });
    if (!file) throw new AsyncUploadsError("not_found", "The file no longer exists.");
    const headers: Record<string, string> = {
      "Content-Type": "application/octet-stream",
      "Content-Disposition": contentDisposition(claims.filename),
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "default-src 'none'; sandbox",
      "Cache-Control": "private, no-store",
      "Accept-Ranges": "bytes",
      ETag: file.etag,
      "Last-Modified": file.modifiedAt.toUTCString(),
    };
    const range = answer as RangeAnswer;
    if (range.kind === "unsatisfiable") {
      await file.body.cancel();
      const error = new AsyncUploadsError("range_not_satisfiable", `The file has ${file.size} bytes; ask for a range inside them.`);
      return c.json(error.toBody(), 416, { ...headers, "Content-Type": "application/json", "Content-Range": `bytes */${file.size}` });
    }
    if (range.kind === "partial") {
      const length = range.end - range.start + 1;
      return new Response(file.body, {
        status: 206,
        headers: { ...headers, "Content-Length": String(length), "Content-Range": `bytes ${range.start}-${range.end}/${file.size}` },
      });
    }
    return new Response(file.body, { status: 200, headers: { ...headers, "Content-Length": String(file.size) } });
  });

  return app;
}

/**
 * The body of an upload or a part. On Node, the request's own stream (the web body would copy every
 * chunk, see takeNodeBody), whose chunks the file sink frees as soon as they are written: each is a
 * copy the HTTP parser made for this request alone (see releaseChunksOnceWritten).
 */
function streamedBody(c: Context<RoutesEnv>): Readable | ReadableStream<Uint8Array> | null {
  const node = takeNodeBody(c);
  return node ? releaseChunksOnceWritten(node) : c.req.raw.body;
}

/**
 * Whether the chunked upload still takes parts (pending, same upload id). Read under a share lock,
 * which waits for a `complete` or cancel holding the row, so a part is either seen by that
 * completion or sees the upload closed; never neither.
 */
async function stillTakesParts(deps: RouteDeps, key: string, uploadId: string): Promise<boolean> {
  const [row] = await deps.db
    .select({ status: asyncTempFile.status, uploadId: asyncTempFile.uploadId })
    .from(asyncTempFile)
    .where(eq(asyncTempFile.key, key))
    .for("share");
  return row?.status === "pending" && row.uploadId === uploadId;
}

/**
 * Whether the upload at `key` still wants its file: pending, or saved meanwhile (commit cleans up after
 * itself). Read under a share lock, which waits for a cancel or a save holding the row.
 */
async function isStillWanted(deps: RouteDeps, key: string): Promise<boolean> {
  const [row] = await deps.db.select({ status: asyncTempFile.status }).from(asyncTempFile).where(eq(asyncTempFile.key, key)).for("share");
  return row?.status === "pending" || row?.status === "committed";
}

/**
 * Whether the client went away (the reason a body stream failed). The server adapter may learn it a
 * moment after the stream failed, so it gets that moment.
 */
async function connectionLost(request: Request): Promise<boolean> {
  if (!request.signal.aborted) await new Promise((resolve) => setTimeout(resolve, 10));
  return request.signal.aborted;
}

/** The field's driver, when it is one that receives and serves the bytes through these routes. */
function filesystemStorageOf(deps: RouteDeps, fieldId: string): FilesystemStorage {
  // Export files (issue 15) are signed with a field id no field can have: `@export/<exportId>`.
  const storage = deps.registry.get(fieldId)?.storage ?? deps.exports?.storageOfFieldId(fieldId);
  if (!isFilesystemStorage(storage)) {
    throw new AsyncUploadsError("invalid_token", "This link does not belong to a file stored on this server.");
  }
  return storage;
}

/** Rethrows the filesystem driver's refusals as the uploader reads them; anything else stays a server error. */
function rethrowRefusal(error: unknown): never {
  if (!(error instanceof FilesystemError)) throw error;
  const options = { cause: error };
  switch (error.kind) {
    case "too_large":
      throw new AsyncUploadsError("file_too_large", error.message, options);
    case "too_short":
      throw new AsyncUploadsError("invalid_request", error.message, options);
    case "already_exists":
      throw new AsyncUploadsError("already_uploaded", "A file was already uploaded with this link; ask for a new one.", options);
    case "gone":
      throw new AsyncUploadsError("already_uploaded", "This upload is complete, canceled or expired; it takes no more parts.", options);
  }
}
