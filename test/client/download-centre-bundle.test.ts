import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { buildClient, type ClientFiles } from "../../client/build";
import { filenameOf } from "../../client/download-centre/exports-api";

describe("the download centre's bundle", () => {
  let files: ClientFiles;
  const text = (name: string) => new TextDecoder().decode(files[name]);

  beforeAll(async () => {
    files = await buildClient({ write: false });
  });

  it("is a file of its own that defines both elements, and the file input's files know nothing of it", () => {
    for (const name of ["async-download-centre.js", "async-download-centre.no-lit.js"]) {
      expect(text(name)).toContain('"async-download-centre"');
      expect(text(name)).toContain('"async-export-button"');
      // Nothing of the upload engine: the centre does not upload.
      expect(text(name)).not.toContain("upload-url");
    }
    expect(text("async-download-centre.js")).not.toMatch(/from\s*"lit/);
    expect(text("async-download-centre.no-lit.js")).toMatch(/from\s*"lit"/);
    for (const [name] of Object.entries(files).filter(([name]) => !name.startsWith("async-download-centre"))) {
      expect(text(name), name).not.toContain("async-download-centre");
      expect(text(name), name).not.toContain("async-export-button");
    }
  });

  it("stays small (gzip)", () => {
    // 13.4 KiB with Lit and 7.0 KiB without when written; the live channel and the shared export types are inside.
    expect(gzipSync(files["async-download-centre.js"]).byteLength).toBeLessThan(14.5 * 1024);
    expect(gzipSync(files["async-download-centre.no-lit.js"]).byteLength).toBeLessThan(8 * 1024);
  });
});

describe("filenameOf (the name of a file served at once)", () => {
  it("reads the server's Content-Disposition, the UTF-8 name first", () => {
    expect(filenameOf(`attachment; filename="documents.csv"; filename*=UTF-8''documents.csv`)).toBe("documents.csv");
    expect(filenameOf(`attachment; filename="r_sum_.csv"; filename*=UTF-8''r%C3%A9sum%C3%A9.csv`)).toBe("résumé.csv");
    expect(filenameOf(`attachment; filename="a \\"quoted\\" name.csv"`)).toBe('a "quoted" name.csv');
    expect(filenameOf(`attachment; filename=plain.csv`)).toBe("plain.csv");
    expect(filenameOf(`attachment; filename*=UTF-8''%E0%A4%A; filename="fallback.csv"`)).toBe("fallback.csv");
    expect(filenameOf("attachment")).toBeNull();
    expect(filenameOf(null)).toBeNull();
  });
});
