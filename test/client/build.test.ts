import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { buildClient, type BundleName } from "../../client/build";
import { minifySource } from "../../client/minify-templates";

describe("buildClient", () => {
  let files: Record<BundleName, Uint8Array>;
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
    // Chunked, resumable uploads of large files (multipart-upload.ts) add about 2 KiB; following the
    // server's checks after an upload (the shared event stream, processing-controller.ts) about 2 KiB more.
    expect(gzipSync(files["async-file-input.js"]).byteLength).toBeLessThan(21 * 1024);
    expect(gzipSync(files["async-file-input.no-lit.js"]).byteLength).toBeLessThan(14.5 * 1024);
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
