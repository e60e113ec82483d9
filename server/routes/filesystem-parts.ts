import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { partRange } from "../../shared/multipart.js";
import { asyncTempFile } from "../db/schema.js";
import { AsyncUploadsError } from "../errors.js";
import { multipartStateOf } from "../multipart/plan.js";
import { verifyToken } from "../tokens.js";
import type { RouteDeps } from "./deps.js";
import { filesystemStorageOf, rethrowRefusal } from "./filesystem.js";

/**
 * `PUT {base}/fs/upload-part/{token}`: one part of a chunked upload to the filesystem backend. The
 * signed token names the upload, the part and its exact byte range; the part is taken only while the
 * upload is still open (not completed, canceled or expired), so a leaked part URL cannot add files
 * after the fact. The body must be exactly the part's size.
 */
export function filesystemPartRoutes(deps: RouteDeps): Hono {
  const app = new Hono();

  app.put("/fs/upload-part/:token", async (c) => {
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
    const body = c.req.raw.body;
    if (!body) throw new AsyncUploadsError("invalid_request", "The request has no body.");
    try {
      await storage.multipart.writePart(claims.key, claims.partNumber, body, claims.size);
    } catch (error) {
      // A dropped connection is what chunked uploads are for, not a server error: nothing was kept,
      // and the browser sends the part again.
      if (c.req.raw.signal.aborted) throw new AsyncUploadsError("invalid_request", "The connection was lost before the part arrived whole.");
      rethrowRefusal(error);
    }
    return c.body(null, 201);
  });

  return app;
}
