/** Longest stored file name, in UTF-16 code units; long enough for people, short enough for every backend. */
export const MAX_FILENAME_LENGTH = 200;
/**
 * Longest stored file name in UTF-8 bytes. Filesystems allow 255 bytes per path segment and the
 * filesystem driver adds a suffix of up to 25 while writing, so 200 CJK characters (600 bytes) must
 * be shortened, not stored as a name the disk refuses.
 */
export const MAX_FILENAME_BYTES = 200;

// C0/C1 controls, and the Unicode format characters that reorder or hide text (bidi overrides and
// isolates, zero-width joiners), which are used to disguise an extension ("invoice‮fdp.exe").
const FORBIDDEN_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/u;

// Replaced by `_` in stored names: unsafe in URLs, shells or Windows paths.
const UNSAFE_ASCII = /[<>:"|?*#%&{}$!'`=@+^~;,\[\]]/g;
// Slash-shaped characters without a compatibility decomposition, which "best fit" code page
// conversions (Windows) or careless readers still take for a separator.
const SLASH_LOOK_ALIKES = /[\u2215\u2044\u2216\u29f8\u29f9]/gu;

/**
 * Why a file name sent by a browser is refused, or null when it is acceptable. Browsers send a bare
 * name, so anything that looks like a path or hides characters is an attack or a bug, never a person.
 */
export function filenameProblem(name: string): string | null {
  if (name.trim() === "") return "the file name is empty";
  if (name.length > MAX_FILENAME_LENGTH) return `the file name is longer than ${MAX_FILENAME_LENGTH} characters`;
  if (/[/\\]/.test(name)) return "the file name contains a path separator";
  if (FORBIDDEN_CHARACTERS.test(name)) return "the file name contains control or invisible formatting characters";
  // A lone UTF-16 surrogate cannot be encoded in a URL or as UTF-8, so no backend can store it.
  if (/\p{Cs}/u.test(name)) return "the file name is not valid Unicode";
  if (name === "." || name === ".." || /^\.+$/.test(name.trim())) return "the file name is only dots";
  return null;
}

/**
 * The name used inside storage keys: NFC, characters that are unsafe in URLs, shells or Windows paths
 * replaced by `_`, no leading dots or trailing dots/spaces, bounded length with the extension kept.
 * Call only on names that passed `filenameProblem`.
 */
export function safeFilename(name: string): string {
  let safe = Array.from(name.normalize("NFC"), replaceLookAlike)
    .join("")
    .replace(UNSAFE_ASCII, "_")
    .replace(SLASH_LOOK_ALIKES, "_")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^\.+/, "")
    .replace(/[. ]+$/, "");
  if (safe === "") safe = "file";
  if (fits(safe)) return safe;
  const dot = safe.lastIndexOf(".");
  const extension = dot > 0 && safe.length - dot <= 16 ? safe.slice(dot) : "";
  // By code points, so that a surrogate pair is never cut in half.
  const stem = Array.from(safe.slice(0, safe.length - extension.length));
  while (stem.length > 0 && !fits(stem.join("") + extension)) stem.pop();
  return (stem.join("").replace(/[. ]+$/, "") || "file") + extension;
}

/**
 * Fullwidth and other compatibility forms of separators, dots and the characters replaced above
 * (`／`, `．`, `＼`, `＜`, `…`) become `_`: NFKC, which search engines, some filesystems and the ASCII
 * fallback of `Content-Disposition` apply, would turn them back into `../`.
 */
function replaceLookAlike(char: string): string {
  const compatible = char.normalize("NFKC");
  return compatible !== char && /[/\\.<>:"|?*#%&{}$!'`=@+^~;,[\]]/.test(compatible) ? "_" : char;
}

function fits(name: string): boolean {
  return name.length <= MAX_FILENAME_LENGTH && new TextEncoder().encode(name).length <= MAX_FILENAME_BYTES;
}
