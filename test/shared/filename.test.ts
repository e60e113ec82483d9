import { describe, expect, it } from "vitest";
import { filenameProblem, MAX_FILENAME_BYTES, MAX_FILENAME_LENGTH, safeFilename } from "../../shared/filename";

const bytesOf = (text: string) => new TextEncoder().encode(text).length;

describe("filenameProblem", () => {
  it.each(["report.pdf", "Rapport annuel 2024 (final).docx", "写真.jpg", ".env", "a".repeat(MAX_FILENAME_LENGTH), "…and more.txt"])(
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
