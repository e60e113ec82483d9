import { fileTypeFromBuffer } from "file-type";
import { imageSize } from "image-size";
import { extensionOf } from "../../shared/accept.js";

/** Bytes read from the start of an object: enough for file-type's signatures and most image headers. */
export const SNIFF_BYTES = 64 * 1024;

export interface InspectedContent {
  /** The type the bytes show, never the browser's word (`text/plain` family for unrecognised text). */
  mime: string;
  /** Extension with its dot, from the bytes where they tell, else from the file name for text formats; "" when unknown. */
  extension: string;
  width?: number;
  height?: number;
}

// Text formats have no signature; for these the declared type is kept when the bytes are text.
const TEXT_TYPES = /^(text\/(plain|csv|markdown|tab-separated-values|calendar|vcard)|application\/(json|csv))$/;
// Likewise the name's extension is believed for text only when it names a text format: text called
// "report.docx" or "page.html" is neither, and must not pass an `accept` of ".docx" or ".html".
const TEXT_EXTENSIONS = new Set([
  ".txt", ".text", ".csv", ".tsv", ".md", ".markdown", ".log", ".json", ".ndjson", ".yaml", ".yml", ".toml", ".ini",
  ".ics", ".vcf", ".srt", ".vtt",
]);

/**
 * Works out what a file really is from its first bytes: a binary signature (file-type), or plain text
 * when the bytes are valid UTF-8 without NULs. Markup that browsers execute (HTML, SVG, XML) is never
 * given the declared type, so an `image/*` field cannot receive an SVG with script in it.
 */
export async function inspectContent(head: Uint8Array, declared: { contentType: string; filename: string }): Promise<InspectedContent> {
  const detected = await fileTypeFromBuffer(head);
  if (detected) {
    const result: InspectedContent = { mime: detected.mime, extension: `.${detected.ext}` };
    if (detected.mime.startsWith("image/")) Object.assign(result, dimensionsOf(head));
    return result;
  }
  if (isText(head)) {
    const declaredType = declared.contentType.toLowerCase();
    const extension = extensionOf(declared.filename);
    return { mime: TEXT_TYPES.test(declaredType) ? declaredType : "text/plain", extension: TEXT_EXTENSIONS.has(extension) ? extension : "" };
  }
  return { mime: "application/octet-stream", extension: "" };
}

function dimensionsOf(head: Uint8Array): { width?: number; height?: number } {
  try {
    const { width, height } = imageSize(head);
    return { width, height };
  } catch {
    // The header was cut off or is unusual; dimensions are a nicety, not a check.
    return {};
  }
}

function isText(bytes: Uint8Array): boolean {
  if (bytes.includes(0)) return false;
  try {
    // `stream: true` tolerates a multi-byte character cut at the end of the sample.
    new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}
