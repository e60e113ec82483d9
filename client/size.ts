import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { buildClient, chunksOf } from "./build.js";

/**
 * Prints the raw, gzip and brotli sizes of every client bundle and chunk (`npm run size:client`), then
 * what `<async-file-input>` costs in all: its file, and its file with every chunk it may load.
 */
const files = await buildClient({ write: false });
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`.padStart(10);
const sizes = (code: Uint8Array) => ({
  raw: code.byteLength,
  gzip: gzipSync(code, { level: 9 }).byteLength,
  brotli: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).byteLength,
});
const row = (name: string, size: ReturnType<typeof sizes>) => console.log(`${name.padEnd(62)}${kib(size.raw)}${kib(size.gzip)}${kib(size.brotli)}`);
console.log(`${"file".padEnd(62)}${"raw".padStart(10)}${"gzip".padStart(10)}${"brotli".padStart(10)}`);
for (const [name, code] of Object.entries(files)) row(name, sizes(code));

// Each file compressed on its own, as a server sends it.
const sum = (list: Array<ReturnType<typeof sizes>>) =>
  list.reduce((total, size) => ({ raw: total.raw + size.raw, gzip: total.gzip + size.gzip, brotli: total.brotli + size.brotli }), { raw: 0, gzip: 0, brotli: 0 });
console.log("");
for (const entry of ["async-file-input.js", "async-file-input.no-lit.js"] as const) {
  row(`${entry} + every chunk (loaded when needed)`, sum([sizes(files[entry]), ...chunksOf(files, entry).map((name) => sizes(files[name]!))]));
}
