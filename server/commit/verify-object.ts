import { extensionOf, matchesAccept, type AcceptList } from "../../shared/accept.js";
import type { AsyncTempFile } from "../db/schema.js";
import { basenameOfKey } from "../keys.js";
import type { Field } from "../registry.js";
import type { StorageDriver } from "../storage/types.js";
import { inspectContent, SNIFF_BYTES, type InspectedContent } from "./inspect-content.js";

/** What verification needs of an upload's row. */
export type UploadedFile = Pick<AsyncTempFile, "key" | "declaredSize" | "contentType" | "originalFilename">;

export type Verification =
  | { ok: true; size: number; content: InspectedContent }
  | { ok: false; reason: string; message: string };

/**
 * Checks the object the browser uploaded against what the server agreed to: it exists, its real size
 * is the declared size and within the field's limit, and its bytes (not the browser's claim) are of an
 * accepted type. The messages are for the person filling in the form. `key` is where the bytes are
 * read (the row's temp key, or the copy commit made of it); the name checked is always the row's.
 */
export async function verifyStoredObject(field: Field, row: UploadedFile, key = row.key): Promise<Verification> {
  const { info, head } = await sizeAndFirstBytes(field.storage, key);
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
  const name = basenameOfKey(row.key);
  if (restrictsTypes(field.accept) && !nameMatchesContent(name, content)) {
    return {
      ok: false,
      reason: `named ${extensionOf(name)}, content is ${content.mime}`,
      message: `The file's name ends in ${extensionOf(name)} but it is ${content.mime}. Rename it or choose another file.`,
    };
  }
  return { ok: true, size: info.size, content };
}

async function sizeAndFirstBytes(storage: StorageDriver, key: string): Promise<{ info: { size: number } | null; head: Uint8Array | null }> {
  if (storage.readStart) {
    const start = await storage.readStart(key, SNIFF_BYTES);
    return start ? { info: { size: start.size }, head: start.bytes } : { info: null, head: null };
  }
  // Both reads at once (one round trip to the storage, not two): reading the first bytes of an object
  // that turns out missing or of the wrong size costs at most SNIFF_BYTES. Commit checks the copy it
  // keeps, which nobody else writes, so the two reads see one object.
  const [info, head] = await Promise.all([storage.stat(key), storage.readFirstBytes(key, SNIFF_BYTES)]);
  return { info, head };
}

// Extensions people give files of a sniffed type besides the one file-type reports.
const EXTENSION_ALIASES: Record<string, readonly string[]> = {
  ".jpg": [".jpeg", ".jpe", ".jfif", ".pjpeg", ".pjp"],
  ".tif": [".tiff"],
  ".heic": [".heif"],
  ".mpg": [".mpeg"],
  ".mid": [".midi"],
  ".aif": [".aiff", ".aifc"],
  ".gz": [".tgz"],
  ".tar.gz": [".gz", ".tgz"],
};

/** A field with an `accept` list other than "anything" only takes files whose name agrees with their bytes. */
function restrictsTypes(accept: AcceptList): boolean {
  return accept.length > 0 && !accept.some((entry) => entry.trim() === "*/*");
}

/**
 * The stored name travels with the file (download name, final key): a PNG called "shell.php" or
 * "page.html" would be run by whatever later opens or serves it by its name. A name without an
 * extension says nothing and is fine.
 */
export function nameMatchesContent(name: string, content: InspectedContent): boolean {
  const extension = extensionOf(name);
  if (extension === "" || extension === content.extension) return true;
  return EXTENSION_ALIASES[content.extension]?.includes(extension) ?? false;
}
