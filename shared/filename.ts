/** Longest stored file name, in UTF-16 code units; long enough for people, short enough for every backend. */
export const MAX_FILENAME_LENGTH = 200;
/**
 * Longest stored file name in UTF-8 bytes. Filesystems allow 255 bytes per path segment and the
 * filesystem driver adds a suffix of up to 25 while writing, so 200 CJK characters (600 bytes) must
 * be shortened, not stored as a name the disk refuses.
 */
export const MAX_FILENAME_BYTES = 200;

// Characters that hide, reorder or disguise text, used to fake an extension ("invoice\u202efdp.exe") or to
// make two names look alike: C0/C1 controls, line and paragraph separators, every format character
// (bidi marks, embeddings, overrides and isolates incl. U+061C, zero-width characters, U+FEFF, tags,
// interlinear annotations), every default-ignorable code point (variation selectors, U+034F, Hangul
// fillers, U+180E, soft hyphen, and those not yet assigned), and noncharacters.
const FORBIDDEN_CHARACTERS =
  /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\p{Bidi_Control}\p{Noncharacter_Code_Point}]/u;
// The exception: an emoji sequence's own joiners, U+FE0F (emoji presentation) right after a pictograph
// and U+200D between pictographs ("\u2764\ufe0f", a family). They join pictures, never letters, so they
// cannot hide or reorder an extension; phones put them in file names.
const EMOJI_JOINERS =
  /(?<=\p{Extended_Pictographic}\p{Emoji_Modifier}?)\ufe0f|(?<=\p{Extended_Pictographic}(?:\ufe0f|\p{Emoji_Modifier})?)\u200d(?=\p{Extended_Pictographic})/gu;
const FORBIDDEN_CHARACTERS_ALL = /* @__PURE__ */ new RegExp(FORBIDDEN_CHARACTERS.source, "gu");

/** Whether `name` holds a forbidden character outside an emoji sequence. */
function hidesCharacters(name: string): boolean {
  return FORBIDDEN_CHARACTERS.test(name.replace(EMOJI_JOINERS, ""));
}

/** `name` without its forbidden characters (emoji sequences kept whole). */
function withoutHiddenCharacters(name: string): string {
  const kept: string[] = [];
  let last = 0;
  for (const match of name.matchAll(EMOJI_JOINERS)) {
    kept.push(name.slice(last, match.index).replace(FORBIDDEN_CHARACTERS_ALL, ""), match[0]);
    last = match.index + match[0].length;
  }
  kept.push(name.slice(last).replace(FORBIDDEN_CHARACTERS_ALL, ""));
  return kept.join("");
}

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
  // A lone UTF-16 surrogate cannot be encoded in a URL or as UTF-8, so no backend can store it;
  // noncharacters are for a program's internal use, never for interchange.
  if (/[\p{Cs}\p{Noncharacter_Code_Point}]/u.test(name)) return "the file name is not valid Unicode";
  if (hidesCharacters(name)) return "the file name contains control or invisible formatting characters";
  if (name === "." || name === ".." || /^\.+$/.test(name.trim())) return "the file name is only dots";
  return null;
}

/**
 * The name used inside storage keys: NFC, characters that are unsafe in URLs, shells or Windows paths
 * replaced by `_`, no leading dots or trailing dots/spaces, bounded length with the extension kept.
 * Meant for names that passed `filenameProblem`; for any other it still returns a safe name (separators
 * become `_`; invisible characters and lone surrogates are dropped), so a forgotten check cannot put
 * them in a key.
 */
export function safeFilename(name: string): string {
  // White space (tabs and newlines too) becomes one space before invisible characters are dropped;
  // NFC after that, as a dropped character may have stood between a letter and its accent.
  const visible = withoutHiddenCharacters(name.replace(/\s+/g, " "))
    .replace(/[\p{Cs}\p{Noncharacter_Code_Point}]/gu, "")
    .normalize("NFC");
  // ASCII is its own NFKC form, so only a name with other characters is looked at one by one.
  const lookAlikesReplaced = /^[\x00-\x7f]*$/.test(visible) ? visible : Array.from(visible, replaceLookAlike).join("");
  let safe = lookAlikesReplaced
    .replace(/[/\\]/g, "_")
    .replace(UNSAFE_ASCII, "_")
    .replace(SLASH_LOOK_ALIKES, "_")
    .replace(/\s+/g, " ")
    .replace(/^[. ]+/, "")
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

// Pure: a page that never shortens a name (the element) drops it from its bundle.
const utf8 = /* @__PURE__ */ new TextEncoder();

function fits(name: string): boolean {
  return name.length <= MAX_FILENAME_LENGTH && utf8.encode(name).length <= MAX_FILENAME_BYTES;
}
