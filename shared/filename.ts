/** Longest stored file name, in UTF-16 code units; long enough for people, short enough for every backend. */
export const MAX_FILENAME_LENGTH = 200;

// C0/C1 controls, and the Unicode format characters that reorder or hide text (bidi overrides and
// isolates, zero-width joiners), which are used to disguise an extension ("invoice‮fdp.exe").
const FORBIDDEN_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/u;

/**
 * Why a file name sent by a browser is refused, or null when it is acceptable. Browsers send a bare
 * name, so anything that looks like a path or hides characters is an attack or a bug, never a person.
 */
export function filenameProblem(name: string): string | null {
  if (name.trim() === "") return "the file name is empty";
  if (name.length > MAX_FILENAME_LENGTH) return `the file name is longer than ${MAX_FILENAME_LENGTH} characters`;
  if (/[/\\]/.test(name)) return "the file name contains a path separator";
  if (FORBIDDEN_CHARACTERS.test(name)) return "the file name contains control or invisible formatting characters";
  if (name === "." || name === ".." || /^\.+$/.test(name.trim())) return "the file name is only dots";
  return null;
}

/**
 * The name used inside storage keys: NFC, characters that are unsafe in URLs, shells or Windows paths
 * replaced by `_`, no leading dots or trailing dots/spaces, bounded length with the extension kept.
 * Call only on names that passed `filenameProblem`.
 */
export function safeFilename(name: string): string {
  let safe = name
    .normalize("NFC")
    .replace(/[<>:"|?*#%&{}$!'`=@+^~;,\[\]]/g, "_")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^\.+/, "")
    .replace(/[. ]+$/, "");
  if (safe === "") safe = "file";
  if (safe.length <= MAX_FILENAME_LENGTH) return safe;
  const dot = safe.lastIndexOf(".");
  const extension = dot > 0 && safe.length - dot <= 16 ? safe.slice(dot) : "";
  return safe.slice(0, MAX_FILENAME_LENGTH - extension.length) + extension;
}
