import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { buildClient } from "./build.js";

/** Prints the raw, gzip and brotli sizes of every client bundle (`npm run size:client`). */
const files = await buildClient({ write: false });
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`.padStart(10);
console.log(`${"bundle".padEnd(34)}${"raw".padStart(10)}${"gzip".padStart(10)}${"brotli".padStart(10)}`);
for (const [name, code] of Object.entries(files)) {
  const gzip = gzipSync(code, { level: 9 }).byteLength;
  const brotli = brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).byteLength;
  console.log(`${name.padEnd(34)}${kib(code.byteLength)}${kib(gzip)}${kib(brotli)}`);
}
