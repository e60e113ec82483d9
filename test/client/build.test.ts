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

  it("stays small (gzip)", () => {
    // What a page with the form loads up front: the element's file, no chunk. The upload engine (with
    // chunked uploads) and the following of the server's checks are chunks loaded when needed.
    expect(gzipSync(files["async-file-input.js"]).byteLength).toBeLessThan(16 * 1024);
    expect(gzipSync(files["async-file-input.no-lit.js"]).byteLength).toBeLessThan(9.5 * 1024);
    for (const name of ["async-file-input.js", "async-file-input.no-lit.js"] as const) {
      expect(text(name)).not.toMatch(/(from|import)\s*"\.\/chunks\//);
      expect(text(name)).toMatch(/import\("\.\/chunks\/upload-engine-[\w-]+\.js"\)/);
    }
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
