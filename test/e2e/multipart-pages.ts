import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** The pages and helpers of the chunked-upload browser test (multipart.test.ts). */

/** `window.makeFile(size)`: the file of `fileBytes(size)`, with a fixed name, type and last-modified time. */
const MAKE_FILE = String.raw`window.makeFile = (size) => {
  const bytes = new Uint8Array(size);
  let x = 42;
  for (let i = 0; i < size; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; bytes[i] = x >>> 24; }
  return new File([bytes], "big.bin", { type: "application/octet-stream", lastModified: 1700000000000 });
};`;

/** The same bytes in the page and here: a file "chosen again" after a reload is byte for byte the same. */
export function fileBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = 42;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

export const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>multipart</title>
<script type="module">
import * as multipart from "/multipart.js";
window.multipart = multipart;
${MAKE_FILE}
// Parts go by XMLHttpRequest (for upload progress); count how many are in flight at once.
window.maxInFlight = 0;
let inFlight = 0;
const send = XMLHttpRequest.prototype.send;
XMLHttpRequest.prototype.send = function (body) {
  window.maxInFlight = Math.max(window.maxInFlight, ++inFlight);
  // readyState 4 comes before \`load\`, whose handler may already start the next part.
  this.addEventListener("readystatechange", () => { if (this.readyState === 4) inFlight--; });
  return send.call(this, body);
};
window.ready = true;
</script></head><body><h1>Chunked upload</h1></body></html>`;

/** The component in a form; `chooseSameFile()` picks the test file as the file chooser would, with its fixed last-modified time. */
export function componentPage(fieldId: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>component</title>
<script type="module" src="/async-file-input.js"></script>
<script>
${MAKE_FILE}
window.chooseSameFile = async (size) => {
  await customElements.whenDefined("async-file-input");
  const input = document.querySelector("async-file-input").shadowRoot.querySelector("input[type=file]");
  const files = new DataTransfer();
  files.items.add(window.makeFile(size));
  input.files = files.files;
  input.dispatchEvent(new Event("change", { bubbles: true }));
};
</script></head><body><form><label for="f">Film</label>
<async-file-input id="f" name="file" field-id="${fieldId}"></async-file-input></form></body></html>`;
}

/** The part number a part request is for, on any backend; null for every other request. */
export function partNumberOf(url: string): number | null {
  const parsed = new URL(url);
  if (parsed.searchParams.has("partNumber")) return Number(parsed.searchParams.get("partNumber"));
  if (parsed.searchParams.get("comp") === "block") {
    return Number(/^part-(\d+)$/.exec(Buffer.from(parsed.searchParams.get("blockid") ?? "", "base64").toString())?.[1]);
  }
  const token = /\/fs\/upload-part\/([\w-]+)\./.exec(parsed.pathname)?.[1];
  return token ? (JSON.parse(Buffer.from(token, "base64url").toString()) as { partNumber: number }).partNumber : null;
}

let moduleCode: Promise<string> | undefined;
export function bundleModule(): Promise<string> {
  moduleCode ??= build({
    entryPoints: [fileURLToPath(new URL("../../client/async-file-input/multipart-upload.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "warning",
  }).then((result) => result.outputFiles[0]!.text);
  return moduleCode;
}
