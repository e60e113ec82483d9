import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { buildClient, type BundleName, type ClientFiles } from "../../client/build";
import { minifySource } from "../../client/minify-templates";

describe("buildClient", () => {
  let files: ClientFiles;
  const text = (name: BundleName) => new TextDecoder().decode(files[name]);

  beforeAll(async () => {
    files = await buildClient({ write: false });
  });

  it("bundles Lit into one file, or leaves it to the app", () => {
    expect(text("async-file-input.js")).not.toMatch(/from\s*"lit/);
    expect(text("async-file-input.js")).toContain("customElements.define");
    expect(text("async-file-input.no-lit.js")).toMatch(/from\s*"lit"/);
  });

  it("keeps zod and the server out, and templates minified", () => {
    for (const name of Object.keys(files) as BundleName[]) {
      expect(text(name)).not.toMatch(/\bzod\b|ZodError|node:/);
      expect(text(name)).not.toMatch(/\n {4}/);
    }
  });

  it("stays small (gzip): the element's file renders the empty field, the file list is a chunk", () => {
    // What a page with the form loads up front: the element's file, no chunk (issue 16: at most 12 KiB
    // with Lit). The checks of a selection, the rows and the upload list are the file list's chunk,
    // loaded when the person reaches for the field; it loads the upload engine with the first file.
    expect(gzipSync(files["async-file-input.js"], { level: 9 }).byteLength).toBeLessThanOrEqual(12 * 1024);
    expect(gzipSync(files["async-file-input.no-lit.js"], { level: 9 }).byteLength).toBeLessThan(7 * 1024);
    for (const name of ["async-file-input.js", "async-file-input.no-lit.js"] as const) {
      expect(text(name)).not.toMatch(/(from|import)\s*"\.\/chunks\//);
      expect(text(name)).not.toMatch(/upload-engine|"\.\.\//);
      const [, list] = text(name).match(/import\("\.\/(chunks\/file-list-[\w-]+\.js)"\)/) ?? [];
      const chunk = new TextDecoder().decode(files[list!]);
      expect(chunk).toMatch(/import\("\.\/upload-engine-[\w-]+\.js"\)/);
      // Lit (when inside), the strings and the events come from the element's own file: one copy of each.
      expect(chunk).toMatch(new RegExp(`from\\s*"\\.\\./${name.replace(/\./g, "\\.")}"`));
      expect(chunk).not.toContain("Choose a file or drop it here");
      // The rows' strings come with the chunk, not in the element's file.
      expect(chunk).toContain("Cancel upload of");
      expect(text(name)).not.toContain("Cancel upload of");
    }
    expect(new TextDecoder().decode(files[text("async-file-input.js").match(/chunks\/file-list-[\w-]+\.js/)![0]])).not.toMatch(
      /lit\$\$|createTreeWalker/,
    );
  });

  it("writes every chunk an element imports", () => {
    for (const name of ["async-file-input.js", "async-file-input.no-lit.js"] as const) {
      for (const [, chunk] of text(name).matchAll(/"\.\/(chunks\/[\w-]+\.js)"/g)) expect(files[chunk!]).toBeDefined();
    }
  });
});

describe("minifySource", () => {
  it("collapses formatting inside css/html/svg templates and keeps expressions and other strings", () => {
    const source = [
      "const a = css`",
      "  :host {",
      "    color: red; /* why */",
      "  }",
      "`;",
      "const b = html`<ul>",
      "    ${items.map((item) => html`<li title=${`x ${item}`}>",
      "      ${item}</li>`)}",
      "  </ul>`;",
      "const c = `keep   this\n  as is`;",
    ].join("\n");
    expect(minifySource(source)).toBe(
      [
        "const a = css`:host{color:red}`;",
        "const b = html`<ul> ${items.map((item) => html`<li title=${`x ${item}`}> ${item}</li>`)} </ul>`;",
        "const c = `keep   this\n  as is`;",
      ].join("\n"),
    );
  });
});
