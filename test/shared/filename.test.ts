import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { filenameProblem, MAX_FILENAME_BYTES, MAX_FILENAME_LENGTH, safeFilename } from "../../shared/filename";

const bytesOf = (text: string) => new TextEncoder().encode(text).length;

describe("filenameProblem", () => {
  it.each(["report.pdf", "I \u2764\ufe0f NY.jpg", "family \u{1f468}\u200d\u{1f469}\u200d\u{1f467}.png", "thumbs \u{1f44d}\u{1f3fd}.png", "Rapport annuel 2024 (final).docx", "写真.jpg", ".env", "a".repeat(MAX_FILENAME_LENGTH), "…and more.txt"])(
    "accepts %j",
    (name) => {
      expect(filenameProblem(name)).toBeNull();
    },
  );

  it.each([
    ["", "empty"],
    ["   ", "empty"],
    ["a".repeat(MAX_FILENAME_LENGTH + 1), "longer than"],
    ["../etc/passwd", "path separator"],
    ["C:\\Windows\\win.ini", "path separator"],
    ["nul\u0000.txt", "control"],
    ["line\nbreak.txt", "control"],
    ["invoice\u202efdp.exe", "invisible"],
    ["zero\u200bwidth.txt", "invisible"],
    ["bom\ufeff.txt", "invisible"],
    ["arabic letter mark\u061c.txt", "invisible"],
    ["ltr mark\u200e.txt", "invisible"],
    ["isolate\u2066exe.txt\u2069", "invisible"],
    ["soft\u00adhyphen.txt", "invisible"],
    ["combining grapheme joiner\u034f.txt", "invisible"],
    ["hangul filler\u3164.txt", "invisible"],
    ["hangul choseong filler\u115f.txt", "invisible"],
    ["halfwidth hangul filler\uffa0.txt", "invisible"],
    ["mongolian vowel separator\u180e.txt", "invisible"],
    ["variation selector\ufe00.txt", "invisible"],
    ["text presentation after a letter a\ufe0f.txt", "invisible"],
    ["tag characters\u{e0070}\u{e0064}\u{e0066}.txt", "invisible"],
    ["unassigned default-ignorable\u2065.txt", "invisible"],
    ["interlinear annotation\ufff9.txt", "invisible"],
    ["line\u2028separator.txt", "control"],
    ["non-character\uffff.txt", "not valid Unicode"],
    ["lone\ud800.txt", "not valid Unicode"],
    [".", "only dots"],
    ["..", "only dots"],
    [" ... ", "only dots"],
  ])("refuses %j (%s)", (name, reason) => {
    expect(filenameProblem(name)).toContain(reason);
  });
});

describe("safeFilename", () => {
  it("keeps an ordinary name as it is", () => {
    expect(safeFilename("report 2024.pdf")).toBe("report 2024.pdf");
    expect(safeFilename("写真.jpg")).toBe("写真.jpg");
  });

  it("replaces characters unsafe in URLs, shells or Windows paths", () => {
    expect(safeFilename('a<b>c:d"e|f?g*h#i%j&k.txt')).toBe("a_b_c_d_e_f_g_h_i_j_k.txt");
    expect(safeFilename("$(rm -rf ~);`x`.sh")).toBe("_(rm -rf _)__x_.sh");
  });

  it("replaces slash look-alikes and compatibility forms that NFKC turns back into ../", () => {
    expect(safeFilename("．．／secret")).toBe("___secret");
    expect(safeFilename("a∕b⁄c＼d.txt")).toBe("a_b_c_d.txt");
    expect(safeFilename("wait….txt")).toBe("wait_.txt");
  });

  it("normalises to NFC, collapses white space, strips leading dots and trailing dots or spaces", () => {
    expect(safeFilename("cafe\u0301.txt")).toBe("caf\u00e9.txt");
    expect(safeFilename("two\t\tspaces  here.txt")).toBe("two spaces here.txt");
    expect(safeFilename(".hidden")).toBe("hidden");
    expect(safeFilename("name. . .")).toBe("name");
    expect(safeFilename("...")).toBe("file");
  });

  it("shortens a long name to the limits, keeping the extension", () => {
    const long = safeFilename(`${"a".repeat(300)}.pdf`);
    expect(long).toHaveLength(MAX_FILENAME_LENGTH);
    expect(long.endsWith(".pdf")).toBe(true);
    const cjk = safeFilename(`${"写".repeat(MAX_FILENAME_LENGTH - 4)}.jpg`);
    expect(bytesOf(cjk)).toBeLessThanOrEqual(MAX_FILENAME_BYTES);
    expect(cjk.endsWith(".jpg")).toBe(true);
  });

  it("never cuts a surrogate pair in half", () => {
    const emoji = safeFilename(`${"😀".repeat(120)}.png`);
    expect(bytesOf(emoji)).toBeLessThanOrEqual(MAX_FILENAME_BYTES);
    expect(emoji).toMatch(/^(😀)+\.png$/u);
  });
});

/** Every invisible, format or bidi character the class refuses, as regular expressions see them. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\p{Bidi_Control}\p{Noncharacter_Code_Point}]/u;
/** An emoji sequence's own joiners: U+FE0F after a pictograph, U+200D between pictographs. */
const EMOJI_JOINERS = /(?<=\p{Extended_Pictographic}\p{Emoji_Modifier}?)\ufe0f|(?<=\p{Extended_Pictographic}(?:\ufe0f|\p{Emoji_Modifier})?)\u200d(?=\p{Extended_Pictographic})/gu;
const hidden = (name: string) => INVISIBLE.test(name.replace(EMOJI_JOINERS, ""));

// Names of ordinary characters with invisible, bidi and format characters mixed in, from every range
// the class covers (and any code point at all, now and then).
const invisibleCodePoints = fc.constantFrom(
  0x00, 0x1f, 0x7f, 0x9f, 0xad, 0x34f, 0x61c, 0x115f, 0x1160, 0x17b4, 0x180b, 0x180e, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f,
  0x2028, 0x2029, 0x202a, 0x202e, 0x2060, 0x2064, 0x2065, 0x2066, 0x2069, 0x206f, 0x3164, 0xfe00, 0xfe0f, 0xfeff, 0xffa0, 0xfff0,
  0xfff9, 0xfffb, 0xfffe, 0xffff, 0x1bca0, 0x1d173, 0xe0001, 0xe0020, 0xe007f, 0xe0100, 0xe01ef, 0xe0fff,
);
const piece = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("a", "Z", "7", " ", ".", "-", "_", "写", "é", "\u{1f600}", "\u2764", "pdf", "exe", "/", "\\", "..", "\u0301") },
  { weight: 3, arbitrary: invisibleCodePoints.map((code) => String.fromCodePoint(code)) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x10ffff }).map((code) => String.fromCodePoint(code)) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 4 }) },
);
const names = fc.array(piece, { maxLength: 40 }).map((pieces) => pieces.join(""));

describe("file names, for any input (fast-check)", () => {
  it("filenameProblem accepts no name that holds an invisible, bidi, format or control character", () => {
    fc.assert(
      fc.property(names, (name) => {
        if (hidden(name)) expect(filenameProblem(name)).not.toBeNull();
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses every invisible code point wherever it stands in an ordinary name", () => {
    fc.assert(
      fc.property(invisibleCodePoints, fc.nat(8), (code, at) => {
        const base = "invoice.pdf";
        const name = base.slice(0, at) + String.fromCodePoint(code) + base.slice(at);
        expect(filenameProblem(name), `U+${code.toString(16)} at ${at}`).not.toBeNull();
      }),
      { numRuns: 1000 },
    );
  });

  it("safeFilename never returns a name with such characters, a separator, dots only, or over the limits", () => {
    fc.assert(
      fc.property(names, (name) => {
        const safe = safeFilename(name);
        expect(hidden(safe)).toBe(false);
        expect(safe).not.toMatch(/[/\\]/);
        expect(safe.trim()).not.toBe("");
        expect(safe).not.toMatch(/^\.|[. ]$/);
        expect(safe.length).toBeLessThanOrEqual(MAX_FILENAME_LENGTH);
        expect(bytesOf(safe)).toBeLessThanOrEqual(MAX_FILENAME_BYTES);
        expect(/\p{Cs}/u.test(safe)).toBe(false);
        expect(safe).toBe(safe.normalize("NFC"));
        // What it makes is itself a name the server accepts, and stable.
        expect(filenameProblem(safe)).toBeNull();
        expect(safeFilename(safe)).toBe(safe);
      }),
      { numRuns: 2000 },
    );
  });

  it("an accepted name keeps its visible characters: only unsafe ones become _", () => {
    fc.assert(
      fc.property(names, (name) => {
        if (filenameProblem(name) !== null) return;
        expect(hidden(name)).toBe(false);
        expect(safeFilename(name).length).toBeGreaterThan(0);
      }),
      { numRuns: 1000 },
    );
  });
});
