import { describe, expect, it } from "vitest";
import { acceptEntryProblem, extensionOf, matchesAccept } from "../../shared/accept";

describe("acceptEntryProblem", () => {
  it.each(["application/pdf", "image/*", "*/*", ".docx", ".tar.gz", " IMAGE/PNG ", "application/vnd.ms-excel"])("accepts %j", (entry) => {
    expect(acceptEntryProblem(entry)).toBeNull();
  });

  it.each(["", "pdf", "image", "image/", "/png", "*/png", "docx.", ".", "..docx", "image/png; charset=x", "text/*/*"])("refuses %j", (entry) => {
    expect(acceptEntryProblem(entry)).toContain("neither a MIME type");
  });
});

describe("extensionOf", () => {
  it.each([
    ["report.PDF", ".pdf"],
    ["archive.tar.gz", ".gz"],
    ["README", ""],
    [".env", ""],
    ["trailing.", ""],
    ["", ""],
  ])("%j → %j", (name, extension) => {
    expect(extensionOf(name)).toBe(extension);
  });
});

describe("matchesAccept", () => {
  it("allows everything when the list is empty", () => {
    expect(matchesAccept([], {})).toBe(true);
    expect(matchesAccept([], { mime: "application/x-msdownload", extension: ".exe" })).toBe(true);
  });

  it("matches exact types, wildcards and extensions, ignoring case and spaces", () => {
    expect(matchesAccept(["application/pdf"], { mime: "APPLICATION/PDF" })).toBe(true);
    expect(matchesAccept([" image/* "], { mime: "image/webp" })).toBe(true);
    expect(matchesAccept([".DOCX"], { extension: ".docx" })).toBe(true);
    expect(matchesAccept(["*/*"], {})).toBe(true);
  });

  it("refuses what no entry names", () => {
    expect(matchesAccept(["image/*"], { mime: "application/pdf" })).toBe(false);
    // `image/*` is the image family, not any type that starts with "image".
    expect(matchesAccept(["image/*"], { mime: "imagex/png" })).toBe(false);
    expect(matchesAccept(["application/pdf"], { mime: "application/pdfx" })).toBe(false);
    expect(matchesAccept([".docx"], { mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", extension: ".doc" })).toBe(false);
  });

  it("needs a type for a type entry and an extension for an extension entry", () => {
    expect(matchesAccept(["image/*"], { extension: ".png" })).toBe(false);
    expect(matchesAccept([".png"], { mime: "image/png" })).toBe(false);
  });
});
