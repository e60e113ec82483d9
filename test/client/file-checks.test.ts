import { describe, expect, it } from "vitest";
import { checkFile, parseAccept, sortSelection } from "../../client/async-file-input/file-checks";

const file = (name: string, size: number, type = "text/plain") => new File([new Uint8Array(size)], name, { type });

describe("parseAccept", () => {
  it("splits the attribute and drops entries the server would refuse", () => {
    expect(parseAccept(" image/*, application/pdf ,.DOCX,, nonsense, */*")).toEqual(["image/*", "application/pdf", ".DOCX", "*/*"]);
    expect(parseAccept("")).toEqual([]);
  });
});

describe("checkFile", () => {
  const rules = { accept: ["image/*", ".txt"], maxSize: 10 };

  it("accepts a file that matches by type or by extension", () => {
    expect(checkFile(file("a.png", 5, "image/png"), rules)).toBeNull();
    expect(checkFile(file("notes.TXT", 5, ""), rules)).toBeNull();
    expect(checkFile(file("anything.bin", 5, ""), { accept: [], maxSize: 0 })).toBeNull();
  });

  it("refuses with a code and a message naming the file", () => {
    expect(checkFile(file("empty.txt", 0), rules)).toMatchObject({ code: "empty_file", message: expect.stringContaining("“empty.txt” is empty") });
    expect(checkFile(file("big.txt", 11), rules)).toMatchObject({ code: "file_too_large", message: expect.stringContaining("larger than 10 bytes") });
    expect(checkFile(file("doc.pdf", 5, "application/pdf"), rules)).toMatchObject({ code: "type_not_allowed", message: expect.stringContaining("image/*, TXT") });
    expect(checkFile(file("a\u202Etxt.exe", 5), rules)).toMatchObject({ code: "invalid_filename" });
  });

  it("treats a file without a type as application/octet-stream, as the server does", () => {
    expect(checkFile(file("data", 5, ""), { accept: ["application/octet-stream"], maxSize: 0 })).toBeNull();
  });
});

describe("sortSelection", () => {
  const rules = { accept: [".txt"], maxSize: 100, multiple: true, maxFiles: 3, room: 2 };

  it("refuses folders and bad files, and keeps only what fits", () => {
    const files = ["a.txt", "b.pdf", "c.txt", "d.txt"].map((name) => file(name, 5));
    const { accepted, refusals } = sortSelection(files, ["photos"], rules);
    expect(accepted.map((accepted) => accepted.name)).toEqual(["a.txt", "c.txt"]);
    expect(refusals.map((refusal) => refusal.code)).toEqual(["folder", "type_not_allowed", "too_many_files"]);
    expect(refusals.at(-1)!.message).toBe("At most 3 files can be added; 1 was left out.");
  });

  it("refuses a selection of several files for a single-file field as a whole", () => {
    const { accepted, refusals } = sortSelection([file("a.txt", 5), file("b.txt", 5)], [], { ...rules, multiple: false, room: 1 });
    expect(accepted).toEqual([]);
    expect(refusals).toEqual([{ code: "too_many_files", message: "Only one file can be added here; choose one." }]);
  });
});
