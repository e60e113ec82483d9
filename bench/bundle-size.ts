/**
 * Question 3: what does each uploader cost the browser to download? Our component with Lit, Uppy
 * (core + dashboard + aws-s3) and FilePond (+ image preview), each bundled the same way by the same
 * bundler — esbuild, minified, ESM, browser platform, everything bundled including the CSS — then
 * compressed with gzip (level 9) and brotli (quality 11).
 */
import { createHash } from "node:crypto";
import { basename } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { buildClient, chunksOf } from "../client/build";
import { bundleEntry } from "./lib/bundle";
import { progress, runBench, type Section } from "./lib/report";
import { KiB, ratio, round } from "./lib/stats";
import { versions } from "./lib/versions";

interface Candidate {
  name: string;
  packages: string;
  /** The app code that pulls the library in and uses it (so nothing is tree-shaken away). */
  entry: string;
  external?: string[];
}

const CANDIDATES: Candidate[] = [
  {
    name: "async-uploads `<async-file-input>` + Lit",
    packages: versions("lit"),
    // The class is used, not only imported: package.json's sideEffects names the built files, not the
    // sources, so a bare \`import "./client/index.ts"\` is dropped whole (the element measured 0.08 KiB).
    entry: `import { AsyncFileInput } from "./client/index.ts";
document.querySelector("form").append(new AsyncFileInput());`,
  },
  {
    name: "Uppy: core + dashboard + aws-s3",
    packages: versions("@uppy/core", "@uppy/dashboard", "@uppy/aws-s3"),
    entry: `import Uppy from "@uppy/core";
import Dashboard from "@uppy/dashboard";
import AwsS3 from "@uppy/aws-s3";
import "@uppy/core/css/style.css";
import "@uppy/dashboard/css/style.css";
new Uppy().use(Dashboard, { inline: true, target: "#uploader" }).use(AwsS3, { companionEndpoint: "/companion" });`,
  },
  {
    name: "FilePond + image preview",
    packages: versions("filepond", "filepond-plugin-image-preview"),
    entry: `import * as FilePond from "filepond";
import FilePondPluginImagePreview from "filepond-plugin-image-preview";
import "filepond/dist/filepond.css";
import "filepond-plugin-image-preview/dist/filepond-plugin-image-preview.css";
FilePond.registerPlugin(FilePondPluginImagePreview);
FilePond.create(document.querySelector("input[type=file]"));`,
  },
];

/** For information: our component when the app already ships Lit. */
const WITHOUT_LIT: Candidate = {
  name: "(for reference) `<async-file-input>` without Lit (app already ships it)",
  packages: "",
  entry: CANDIDATES[0]!.entry,
  external: ["lit", "lit/*", "@lit/*", "lit-html", "lit-html/*", "lit-element", "lit-element/*"],
};

interface Sizes {
  raw: number;
  gzip: number;
  brotli: number;
  /** Per output file (the JS, and the CSS where the library ships CSS). */
  files: Array<{ name: string; raw: number; gzip: number; brotli: number }>;
  hash: string;
}

/** Bundles one candidate and measures it; each output file is compressed on its own (as served). */
async function measureBundle(candidate: Candidate): Promise<Sizes> {
  const files = (await bundleEntry(candidate.entry, candidate.external)).map((file) => ({
      name: basename(file.path),
      raw: file.contents.byteLength,
      gzip: gzipSync(file.contents, { level: 9 }).byteLength,
      brotli: brotliCompressSync(file.contents, {
        params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: file.contents.byteLength },
      }).byteLength,
      sha: createHash("sha256").update(file.contents).digest("hex"),
    }));
  if (files.length === 0) throw new Error(`${candidate.name}: esbuild produced nothing`);
  const sum = (pick: (file: (typeof files)[number]) => number) => files.reduce((total, file) => total + pick(file), 0);
  return {
    raw: sum((file) => file.raw),
    gzip: sum((file) => file.gzip),
    brotli: sum((file) => file.brotli),
    files: files.map(({ sha: _sha, ...file }) => file),
    hash: files.map((file) => file.sha).join(","),
  };
}

const kib = (bytes: number) => `${round(bytes / KiB, 3)} KiB`;

await runBench(async ({ quick }) => {
  const builds = quick ? 1 : 3;
  const measured = new Map<Candidate, Sizes>();
  for (const candidate of [...CANDIDATES, WITHOUT_LIT]) {
    progress(`bundle-size: ${candidate.name}`);
    const runs: Sizes[] = [];
    for (let i = 0; i < builds; i++) runs.push(await measureBundle(candidate));
    if (new Set(runs.map((run) => run.hash)).size !== 1) throw new Error(`${candidate.name}: esbuild output differs between builds`);
    measured.set(candidate, runs[0]!);
  }
  const ours = measured.get(CANDIDATES[0]!)!;
  // As shipped (`npm run build:client`): the element's file is what a page loads; the chunks come by
  // import() when the person reaches for the field or adds a file. Each file compressed on its own.
  progress("bundle-size: dist/browser as shipped");
  const shipped = await buildClient({ write: false });
  const gzipOf = (code: Uint8Array) => gzipSync(code, { level: 9 }).byteLength;
  const brotliOf = (code: Uint8Array) =>
    brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: code.byteLength } }).byteLength;
  // The chunks the element's file may load (the file list, then the upload engine, the checks' live channel…).
  const chunks = chunksOf(shipped, "async-file-input.js").map((name) => shipped[name]!);
  const shippedRow = (label: string, files: Uint8Array[]) => {
    const total = (pick: (code: Uint8Array) => number) => files.reduce((sum, code) => sum + pick(code), 0);
    return [label, kib(total((code) => code.byteLength)), kib(total(gzipOf)), kib(total(brotliOf)), `${files.length} file(s)`, "—", "—"];
  };
  const initial = { gzip: gzipOf(shipped["async-file-input.js"]), brotli: brotliOf(shipped["async-file-input.js"]) };
  const rows = [...CANDIDATES, WITHOUT_LIT].map((candidate) => {
    const sizes = measured.get(candidate)!;
    const parts = sizes.files.map((file) => `${file.name.endsWith(".css") ? "CSS" : "JS"} ${kib(file.brotli)}`).join(" + ");
    const isOurs = candidate === CANDIDATES[0] || candidate === WITHOUT_LIT;
    return [
      candidate.name,
      kib(sizes.raw),
      kib(sizes.gzip),
      kib(sizes.brotli),
      parts,
      isOurs ? "—" : ratio(ours.gzip, sizes.gzip),
      isOurs ? "—" : ratio(ours.brotli, sizes.brotli),
    ];
  });
  const [uppy, filepond] = [measured.get(CANDIDATES[1]!)!, measured.get(CANDIDATES[2]!)!];
  return {
    order: 3,
    title: "The browser bundle",
    method: [
      `${versions("esbuild")} with one configuration for all: \`bundle\`, \`minify\`, \`format: "esm"\`, \`platform: "browser"\`, \`target: "es2022"\`, CSS imported by the entry bundled into a CSS file beside the JS. Each entry imports its library and uses it as an app would (so nothing is tree-shaken away); packages resolved the way esbuild resolves them by default.`,
      "Sizes: gzip level 9 and brotli quality 11 of each output file, summed (JS + CSS, as a page would fetch them). Builds are deterministic: " +
        `${builds} build(s) per candidate gave byte-identical output, so each figure is exact rather than a median.`,
      `Packages: ${CANDIDATES.map((candidate) => candidate.packages).join("; ")}. Our component's styles are in its JS (Lit \`css\`), so it has no CSS file.`,
    ],
    tables: [
      {
        headers: ["bundle", "minified", "gzip -9", "brotli -q 11", "brotli by file", "ours vs peer (gzip)", "ours vs peer (brotli)"],
        rows: [
          ...rows,
          shippedRow("(as shipped) `dist/browser/async-file-input.js`: what a page with the form loads", [shipped["async-file-input.js"]]),
          shippedRow("(as shipped) the same + every chunk it may load (file list, upload engine, checks, live channel)", [shipped["async-file-input.js"], ...chunks]),
          shippedRow("(as shipped) `async-file-input.no-lit.js`: what a page with the form loads", [shipped["async-file-input.no-lit.js"]]),
        ],
      },
    ],
    headline: [
      ["3. browser bundle as shipped: the element's file a page loads, with Lit, gzip (brotli)", `${kib(initial.gzip)} (${kib(initial.brotli)})`, "goal ≤ 12 KiB gzip", ratio(initial.gzip, 12 * KiB)],
      ["3. browser bundle, brotli (gzip)", `${kib(ours.brotli)} (${kib(ours.gzip)})`, `Uppy ${kib(uppy.brotli)} (${kib(uppy.gzip)})`, `${ratio(ours.brotli, uppy.brotli)} (${ratio(ours.gzip, uppy.gzip)})`],
      ["3. browser bundle, brotli (gzip)", `${kib(ours.brotli)} (${kib(ours.gzip)})`, `FilePond ${kib(filepond.brotli)} (${kib(filepond.gzip)})`, `${ratio(ours.brotli, filepond.brotli)} (${ratio(ours.gzip, filepond.gzip)})`],
    ],
    notes: [
      `Ours with Lit is ${ratio(ours.brotli, uppy.brotli)} Uppy's brotli size and ${ratio(ours.brotli, filepond.brotli)} FilePond's (gzip: ${ratio(ours.gzip, uppy.gzip)} and ${ratio(ours.gzip, filepond.gzip)}).`,
    ],
  } satisfies Section;
});
