import { readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";

/**
 * s3rver 3.7 implements CreateMultipartUpload, UploadPart and CompleteMultipartUpload, but answers
 * ListParts and AbortMultipartUpload with 405 MethodNotAllowed (and UploadPartCopy with 501), and
 * takes parts for an upload id it never issued (and fails a second completion with InternalError). Chunked uploads need the first two, so this adds them
 * in front of s3rver's own routes, reading and changing s3rver's own store: the parts listed are the
 * bytes s3rver really holds, with the MD5 ETags it answered UploadPart with. Unknown or aborted
 * uploads get S3's `NoSuchUpload`, for parts too. Everything else goes to s3rver unchanged.
 *
 * Known differences from S3 that remain: signatures (and so the signed Content-Length of a part URL)
 * are not checked, and CompleteMultipartUpload checks neither ETags nor part sizes (our server does
 * before it completes).
 */

type Context = {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
  type: string;
};
type Middleware = (ctx: Context, next: () => Promise<void>) => Promise<void>;
interface S3rverInternals {
  middleware: Middleware[];
  store: { getResourcePath(bucket: string, key: string | undefined, resource: string): string };
}

/** Installs ListParts and AbortMultipartUpload on an s3rver instance; call before `run()`. */
export function addMultipartCalls(server: unknown): void {
  const { middleware, store } = server as S3rverInternals;
  middleware.unshift(async function multipartCalls(ctx, next) {
    const uploadId = typeof ctx.query.uploadId === "string" ? ctx.query.uploadId : undefined;
    const match = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
    if (!uploadId || !match || !/^[0-9a-f]+$/i.test(uploadId)) return next();
    const [bucket, key] = [match[1]!, decodeURIComponent(match[2]!)];
    const dir = join(store.getResourcePath(bucket, undefined, "uploads"), uploadId);
    const known = await readFile(join(dir, "key"), "utf8").then((stored) => stored === key, () => false);
    const isListParts = ctx.method === "GET";
    const isAbort = ctx.method === "DELETE";
    const isUploadPart = ctx.method === "PUT" && ctx.query.partNumber !== undefined;
    const isComplete = ctx.method === "POST";
    if (!isListParts && !isAbort && !isUploadPart && !isComplete) return next();
    if (!known) return answerError(ctx, 404, "NoSuchUpload", "The specified upload does not exist.");
    if (isUploadPart || isComplete) return next();
    if (isAbort) {
      await rm(dir, { recursive: true, force: true });
      ctx.status = 204;
      ctx.body = null;
      return;
    }
    const marker = Number(ctx.query["part-number-marker"] ?? 0);
    const maxParts = Math.min(1000, Number(ctx.query["max-parts"] ?? 1000));
    // A part counts once s3rver wrote its MD5 (after the last byte): an interrupted part is not listed.
    const names = await readdir(dir);
    const numbers = names.filter((name) => /^\d+$/.test(name) && names.includes(`${name}.md5`)).map(Number).sort((a, b) => a - b);
    const page = numbers.filter((n) => n > marker).slice(0, maxParts);
    const truncated = numbers.some((n) => n > (page.at(-1) ?? marker)) && page.length === maxParts;
    const parts = await Promise.all(
      page.map(async (n) => {
        const [info, md5] = await Promise.all([stat(join(dir, String(n))), readFile(join(dir, `${n}.md5`), "utf8")]);
        return `<Part><PartNumber>${n}</PartNumber><LastModified>${info.mtime.toISOString()}</LastModified>` +
          `<ETag>&quot;${md5}&quot;</ETag><Size>${info.size}</Size></Part>`;
      }),
    );
    ctx.status = 200;
    ctx.type = "application/xml";
    ctx.body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      `<Bucket>${xml(bucket)}</Bucket><Key>${xml(key)}</Key><UploadId>${uploadId}</UploadId>` +
      `<PartNumberMarker>${marker}</PartNumberMarker><NextPartNumberMarker>${page.at(-1) ?? marker}</NextPartNumberMarker>` +
      `<MaxParts>${maxParts}</MaxParts><IsTruncated>${truncated}</IsTruncated>${parts.join("")}</ListPartsResult>`;
  });
}

function answerError(ctx: Context, status: number, code: string, message: string): void {
  ctx.status = status;
  ctx.type = "application/xml";
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xml(message)}</Message></Error>`;
}

function xml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
