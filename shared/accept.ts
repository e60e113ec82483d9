/**
 * `accept` entries as in HTML's `accept` attribute: exact MIME types (`application/pdf`), wildcards
 * (`image/*`, `*\/*`) and extensions (`.docx`). Used by the browser for a quick check, by the server when
 * it issues an upload URL (declared type and name), and at commit (sniffed type and extension).
 */
export type AcceptList = readonly string[];

const MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$/;
const EXTENSION = /^\.[a-z0-9][a-z0-9._+-]*$/;

/** Returns a reason when an accept entry is malformed, else null. */
export function acceptEntryProblem(entry: string): string | null {
  const value = entry.trim().toLowerCase();
  if (value === "*/*" || MIME.test(value) || EXTENSION.test(value)) return null;
  return `"${entry}" is neither a MIME type (type/subtype, type/*) nor an extension (.ext)`;
}

/** Lower-case extension with its dot (`.pdf`), or "" when the name has none. */
export function extensionOf(filename: string): string {
  const dot = filename.lastIndexOf(".");
  if (dot <= 0 || dot === filename.length - 1) return "";
  return filename.slice(dot).toLowerCase();
}

/** True when a file of this MIME type and/or extension is allowed. An empty list allows everything. */
export function matchesAccept(accept: AcceptList, file: { mime?: string; extension?: string }): boolean {
  if (accept.length === 0) return true;
  const mime = file.mime?.toLowerCase();
  const extension = file.extension?.toLowerCase();
  return accept.some((raw) => {
    const entry = raw.trim().toLowerCase();
    if (entry === "*/*") return true;
    if (entry.startsWith(".")) return entry === extension;
    if (!mime) return false;
    if (entry.endsWith("/*")) return mime.startsWith(entry.slice(0, -1));
    return entry === mime;
  });
}
