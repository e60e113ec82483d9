import { matchesAccept } from "../../shared/accept";
import type { AsyncTempFile } from "../db/schema";
import type { Field } from "../registry";
import { inspectContent, SNIFF_BYTES, type InspectedContent } from "./inspect-content";

export type Verification =
  | { ok: true; size: number; content: InspectedContent }
  | { ok: false; reason: string; message: string };

/**
 * Checks the object the browser uploaded against what the server agreed to: it exists, its real size
 * is the declared size and within the field's limit, and its bytes (not the browser's claim) are of an
 * accepted type. The messages are for the person filling in the form.
 */
export async function verifyStoredObject(field: Field, row: AsyncTempFile): Promise<Verification> {
  const info = await field.storage.stat(row.key);
  if (!info) {
    return { ok: false, reason: "object missing", message: "The file did not finish uploading. Please choose it again." };
  }
  if (info.size !== row.declaredSize) {
    return {
      ok: false,
      reason: `stored ${info.size} bytes, declared ${row.declaredSize}`,
      message: "The uploaded file is not the file that was announced. Please choose it again.",
    };
  }
  if (info.size > field.maxSize) {
    return { ok: false, reason: `stored ${info.size} bytes, max ${field.maxSize}`, message: "The file is too large for this field." };
  }
  const head = await field.storage.readFirstBytes(row.key, SNIFF_BYTES);
  if (!head) {
    return { ok: false, reason: "object missing", message: "The file did not finish uploading. Please choose it again." };
  }
  const content = await inspectContent(head, { contentType: row.contentType, filename: row.originalFilename });
  if (!matchesAccept(field.accept, { mime: content.mime, extension: content.extension })) {
    return {
      ok: false,
      reason: `content is ${content.mime}`,
      message: `This kind of file (${content.mime}) is not accepted here.`,
    };
  }
  return { ok: true, size: info.size, content };
}
