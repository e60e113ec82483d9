/**
 * Question 4: how long does uploading take in a real browser? Headless Chromium uploads 1 file of
 * 100 MiB and 200 files of 50 KiB to s3rver: with our component, with a plain XMLHttpRequest loop
 * doing the same protocol (our overhead), and with Uppy's aws-s3 plugin signing through Companion
 * (the peer).
 *
 * s3rver, our server (S3 backend, also serving the pages) and Companion each run in a child process;
 * Chromium is driven from this process. The files are written to disk before any timing and chosen
 * with Playwright's `setInputFiles` (paths, so the browser reads them itself).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { CHROMIUM_PATH, launchBrowser } from "../test/helpers/browser";
import { bundleEntry } from "./lib/bundle";
import { BENCH_FIELD_SINGLE } from "./lib/constants";
import { scratchDir } from "./lib/cleanup";
import { startChild, type Child } from "./lib/child";
import { createBenchDatabase } from "./lib/database";
import { progress, runBench, type Section } from "./lib/report";
import { formatBytes, KiB, MiB, ratio, round, spread, summarize } from "./lib/stats";
import { versions } from "./lib/versions";
import type { PageResult } from "./pages/harness";

type Info = { url: string };
interface Scenario {
  name: string;
  files: string[];
  bytes: number;
}
interface Variant {
  name: string;
  /** Run only for the large file (where chunking applies). */
  largeOnly?: boolean;
  page: string;
  query?: Record<string, string>;
  /** Where the files are chosen. */
  input: string;
  /** The server that serves the page and the routes. @default ours (presigned POST) */
  base?: string;
}

/** The S3 the bench uploads to: s3rver, or Ceph's RADOS Gateway with `BENCH_S3_SERVICE=rgw`. */
const onRgw = process.env.BENCH_S3_SERVICE === "rgw";
const S3_SERVICE = onRgw ? "Ceph RGW" : "s3rver";

const PAGES_DIR = fileURLToPath(new URL("./pages/", import.meta.url));
/** Where the component formats file sizes (checked by the notes, which name a hotspot found there). */
const STRINGS_SOURCE = fileURLToPath(new URL("../client/async-file-input/strings.ts", import.meta.url));

await runBench(async ({ quick }) => {
  // RGW keeps its objects in memory (memstore, 2 GiB; the bench deletes none): one repeat, and the
  // large file at its full 100 MiB even with --quick (smaller files would never be chunked).
  const repeats = quick || onRgw ? 1 : 3;
  const big = quick && !onRgw ? 20 * MiB : 100 * MiB;
  const small = { count: quick ? 40 : 200, size: 50 * KiB };

  const database = await createBenchDatabase();
  const scratch = await scratchDir("bench-browser-");
  const children: Child<Info>[] = [];
  let browser: Browser | undefined;
  try {
    progress("browser-upload: writing the files and bundling the pages");
    const scenarios = await writeFiles(scratch, big, small);
    const staticDir = join(scratch, "static");
    await bundlePages(staticDir);

    // BENCH_S3_SERVICE=rgw: Ceph's RADOS Gateway instead of s3rver (which rewrites every part on completion).
    const s3rver = await startChild<Info & { endpoint: string }>(onRgw ? "servers/rgw-server.ts" : "servers/s3rver-server.ts");
    children.push(s3rver);
    const env = { BENCH_DB_URL: database.url, BENCH_DB_SCHEMA: database.schema, BENCH_S3: JSON.stringify(s3rver.info) };
    const ours = await startChild<Info>("servers/async-uploads-server.ts", [], { ...env, BENCH_BACKEND: "s3", BENCH_STATIC_DIR: staticDir });
    children.push(ours);
    // The same server with presigned PUT URLs (s3Storage's uploadMethod "PUT"), as Uppy's aws-s3 sends.
    const oursWithPut = await startChild<Info>("servers/async-uploads-server.ts", [], { ...env, BENCH_BACKEND: "s3", BENCH_STATIC_DIR: staticDir, BENCH_S3_UPLOAD_METHOD: "PUT" });
    children.push(oursWithPut);
    const companion = await startChild<Info>("servers/companion-server.ts", [], env);
    children.push(companion);
    browser = await launchBrowser();

    const xhrLoop: Variant = { name: "plain XHR loop (3 at a time)", page: "xhr-loop", input: "input[type=file]" };
    const oursDefault: Variant = { name: "async-uploads `<async-file-input>`", page: "ours", input: "async-file-input input[type=file]" };
    const oursSingle: Variant = {
      name: "async-uploads `<async-file-input>`, one request per file (`multipartThreshold: Infinity`)",
      page: "ours",
      query: { field: BENCH_FIELD_SINGLE },
      input: "async-file-input input[type=file]",
      largeOnly: true,
    };
    const oursPut: Variant = {
      name: "async-uploads `<async-file-input>`, presigned PUT (`uploadMethod: \"PUT\"`)",
      page: "ours",
      input: "async-file-input input[type=file]",
      base: oursWithPut.info.url,
    };
    const oursPutSingle: Variant = { ...oursPut, name: `${oursPut.name}, one request per file`, query: { field: BENCH_FIELD_SINGLE }, largeOnly: true };
    const uppyDefault: Variant = { name: "Uppy aws-s3 via Companion (limit 6, its default)", page: "uppy", query: { companion: companion.info.url }, input: "input[type=file]" };
    const uppy3: Variant = { name: "Uppy aws-s3 via Companion (limit 3, as ours)", page: "uppy", query: { companion: companion.info.url, limit: "3" }, input: "input[type=file]" };
    const uppyDashboard: Variant = {
      name: "Uppy + Dashboard UI via Companion (defaults)",
      page: "uppy",
      query: { companion: companion.info.url, dashboard: "1" },
      input: 'input.uppy-Dashboard-input[name="files[]"]:not([webkitdirectory])',
    };
    const variants = [xhrLoop, oursDefault, oursSingle, oursPut, oursPutSingle, uppyDefault, uppy3, uppyDashboard];

    // One untimed run per page first: compiles the servers' and the browser's code paths.
    progress("browser-upload: warming up");
    for (const variant of variants) await runOnce(browser, variant.base ?? ours.info.url, variant, scenarios[1]!.files.slice(0, 10));

    const times = new Map<string, number[]>();
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const scenario of scenarios) {
        for (let i = 0; i < variants.length; i++) {
          const variant = variants[(i + repeat) % variants.length]!;
          if (variant.largeOnly && scenario !== scenarios[0]) continue;
          progress(`browser-upload: ${repeat + 1}/${repeats}, ${scenario.name}, ${variant.name}`);
          const result = await runOnce(browser, variant.base ?? ours.info.url, variant, scenario.files);
          const key = `${scenario.name}|${variant.name}`;
          times.set(key, [...(times.get(key) ?? []), result.ms]);
        }
      }
    }

    const tables = scenarios.map((scenario) => {
      const summary = (variant: Variant) => summarize(times.get(`${scenario.name}|${variant.name}`)!);
      const [xhr, ourSummary, uppy] = [summary(xhrLoop), summary(oursDefault), summary(uppyDefault)];
      return {
        caption: `${scenario.name} (${formatBytes(scenario.bytes)} in all): wall time in ms, lower is better`,
        headers: ["uploader", "wall time ms", "MiB/s", "ours vs this"],
        rows: variants.filter((variant) => !variant.largeOnly || scenario === scenarios[0]).map((variant) => {
          const s = summary(variant);
          const isOurs = variant === oursDefault;
          return [variant.name, spread(s, (value) => round(value, 3)), round(scenario.bytes / MiB / (s.median / 1000), 3), isOurs ? "—" : ratio(ourSummary.median, s.median)];
        }),
        ratios: { overhead: ourSummary.median / xhr.median, peer: ourSummary.median / uppy.median },
      };
    });
    const chromium = browser.version();
    /** Where we are behind, and why (what the figures and a CPU profile of the pages show). */
    function whyNotes(): string[] {
      const notes: string[] = [];
      const [bigScenario, many] = scenarios as [Scenario, Scenario];
      const stats = (scenario: Scenario, variant: Variant) => summarize(times.get(`${scenario.name}|${variant.name}`)!);
      const overlaps = (a: { min: number; max: number }, b: { min: number; max: number }) => a.min <= b.max && b.min <= a.max;
      const [bigXhr, bigOurs, bigUppy] = [stats(bigScenario, xhrLoop), stats(bigScenario, oursDefault), stats(bigScenario, uppyDefault)];
      const bigSingle = stats(bigScenario, oursSingle);
      // The field's default `multipartThreshold` (server/registry.ts): smaller files go in one request anyway.
      if (bigScenario.bytes >= 64 * MiB) notes.push(
        `${bigScenario.name}: by default our component sends files of 64 MiB or more in 8 MiB parts, 4 at a time (S3 multipart: resumable and retried per part); with chunking turned off it sends one POST like the others, taking ${ratio(bigSingle.median, bigOurs.median)} the chunked time. ` +
          (onRgw
            ? "This run is against Ceph's RADOS Gateway, which completes a multipart upload without rewriting its parts."
            : "On s3rver, completing a multipart upload rewrites every part into the final object on its disk, work a real S3 does not do on the upload's critical path."),
      );
      // Compared request for request: the component with one POST per file, like the others.
      const chunked = bigScenario.bytes >= 64 * MiB;
      const onePost = chunked ? bigSingle : bigOurs;
      const label = chunked ? "ours with one request" : "ours";
      if (overlaps(onePost, bigXhr) && overlaps(onePost, bigUppy)) {
        notes.push(`${bigScenario.name}: with one POST carrying the bytes, the runs of ${label}, the XHR loop and Uppy overlap (see min–max): the remaining differences are this machine's run-to-run noise, not the uploaders.`);
      } else if (onePost.median > Math.min(bigXhr.median, bigUppy.median) * 1.1) {
        notes.push(`${bigScenario.name}: ${label} is slower than the fastest peer without the runs overlapping, though all send the same single POST: the gap is main-thread work during the upload (the component re-renders on every progress event) or noise from other work on the machine (see the load averages above).`);
      }
      const [xhr, ourMs, uppy6, uppyAt3] = [xhrLoop, oursDefault, uppyDefault, uppy3].map((variant) => stats(many, variant).median) as [number, number, number, number];
      if (ourMs > xhr * 1.1) {
        const formatterPerCall = /new Intl\.NumberFormat\(/.test(readFileSync(STRINGS_SOURCE, "utf8"));
        notes.push(
          `${many.name}, behind our own floor (${ratio(ourMs, xhr)} the XHR loop, which speaks the same protocol with no UI): the component re-renders every file row on every change of any upload (about five per file: requesting, uploading, progress, done), so its main-thread work grows with the square of the number of files` +
            (formatterPerCall
              ? `, and each row formats its size with a newly constructed \`Intl.NumberFormat\` (\`formatSize\` in client/async-file-input/strings.ts). A CPU profile of the 200-file page, taken while writing this bench, put about 3 s of main-thread time in that constructor alone; caching the two formatters removes it, and rendering only the rows that changed would remove most of the rest.`
              : ". Rendering only the rows that changed would remove most of it."),
        );
      }
      if (ourMs > uppy6 * 1.1) {
        const parts = [
          uppy6 < uppyAt3 * 0.9 ? `Uppy's default concurrency of 6 (against our fixed 3) is worth ${ratio(uppy6, uppyAt3)}` : `Uppy's default concurrency of 6 (against our fixed 3) gains nothing here (${ratio(uppy6, uppyAt3)} its time at 3)`,
          xhr > uppyAt3 * 1.1
            ? `our signing request costs more than Companion's — \`upload-url\` validates, counts the person's unsaved uploads and inserts the row that makes commit and cleanup safe (section 1), where Companion only signs — so the XHR loop takes ${ratio(xhr, uppyAt3)} Uppy's time at equal concurrency`
            : `the signing request is not the difference: the XHR loop, with our \`upload-url\` and its PostgreSQL insert, takes ${ratio(xhr, uppyAt3)} Uppy's time at equal concurrency`,
          `the rest is the component's rendering (above)`,
        ];
        notes.push(`${many.name}, behind Uppy (${ratio(ourMs, uppy6)} its default, ${ratio(ourMs, uppyAt3)} at the same concurrency of 3): ${parts.join("; ")}.`);
      }
      return notes;
    }

    return {
      order: 4,
      title: `Uploading in the browser (headless Chromium → ${S3_SERVICE})`,
      method: [
        `Chromium ${chromium} (${CHROMIUM_PATH}, headless, launch settings of test/helpers/browser.ts), ${versions("playwright-core", "s3rver", "@uppy/core", "@uppy/aws-s3", "@uppy/dashboard", "@uppy/companion")}.`,
        "Every uploader does the same network work per file: one signing request to a server (ours: `POST /async-uploads/upload-url` with its PostgreSQL insert; Uppy: Companion's `GET /s3/params`), then one presigned multipart POST of the file to s3rver (a CORS request with a preflight) — except our component's default for files of 64 MiB or more, which is an S3 multipart upload in 8 MiB parts (shown beside a run with chunking turned off).",
        "s3rver, our server (S3 backend; it also serves the pages) and Companion run in separate child processes; Chromium and the bench are separate processes too — all on the machine's 2 cores.",
        `Files written to disk before timing (random bytes), chosen with \`setInputFiles\` by path. Time measured in the page from the file input's \`change\` event to the last upload's end. A fresh browser context per run; one untimed warm-up run per page. ${repeats} run(s) per uploader and file set, in rotating order; median (min–max).`,
        "The pages are bundled with the same esbuild configuration as section 3.",
      ],
      tables: tables.map(({ ratios: _ratios, ...table }) => table),
      headline: tables.flatMap((table, i) => {
        const scenario = scenarios[i]!;
        const get = (variant: Variant) => summarize(times.get(`${scenario.name}|${variant.name}`)!).median;
        const [xhr, ourMs, uppy] = [get(xhrLoop), get(oursDefault), get(uppyDefault)];
        const rows = [
          [`4. browser upload, ${scenario.name}, ms`, round(ourMs, 3), `Uppy aws-s3 ${round(uppy, 3)}`, ratio(ourMs, uppy)],
          [`4. browser upload, ${scenario.name}, ms (our overhead)`, round(ourMs, 3), `plain XHR loop ${round(xhr, 3)}`, ratio(ourMs, xhr)],
        ];
        if (i === 0 && scenario.bytes >= 64 * MiB) {
          const single = get(oursSingle);
          rows.push([`4. browser upload, ${scenario.name}, ms (ours with chunking off)`, round(single, 3), `Uppy aws-s3 ${round(uppy, 3)}`, ratio(single, uppy)]);
        }
        return rows;
      }),
      notes: [
        ...tables.map(
          (table, i) =>
            `${scenarios[i]!.name}: ours takes ${round(table.ratios.overhead, 3)}× the plain XHR loop's time (our overhead) and ${round(table.ratios.peer, 3)}× Uppy's with its default settings.`,
        ),
        ...whyNotes(),
      ],
    } satisfies Section;
  } finally {
    await browser?.close().catch(() => {});
    await Promise.allSettled(children.map((child) => child.stop()));
    await database.close();
    await rm(scratch, { recursive: true, force: true });
  }
});

async function runOnce(browser: Browser, base: string, variant: Variant, files: string[]): Promise<PageResult> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    const query = new URLSearchParams(variant.query ?? {}).toString();
    await page.goto(`${base}/static/${variant.page}.html${query ? `?${query}` : ""}`);
    await page.waitForFunction(() => window.bench?.ready === true, undefined, { timeout: 30_000 }).catch((error: unknown) => {
      throw new Error(`${variant.name}: the page did not get ready (${errors.join("; ") || String(error)})`);
    });
    await page.locator(variant.input).first().setInputFiles(files);
    const handle = await page.waitForFunction(() => window.bench.result, undefined, { timeout: 300_000, polling: 50 });
    const result = (await handle.jsonValue()) as PageResult;
    if (result.failed > 0 || result.done !== files.length || errors.length > 0) {
      throw new Error(`${variant.name}: ${result.done}/${files.length} uploaded, errors: ${[...result.errors, ...errors].join("; ")}`);
    }
    return result;
  } finally {
    await context.close();
  }
}

async function writeFiles(dir: string, big: number, small: { count: number; size: number }): Promise<Scenario[]> {
  const bigPath = join(dir, "big.bin");
  await writeFile(bigPath, randomBytes(big));
  const smallPaths: string[] = [];
  for (let i = 0; i < small.count; i++) {
    const path = join(dir, `small-${String(i).padStart(3, "0")}.bin`);
    await writeFile(path, randomBytes(small.size));
    smallPaths.push(path);
  }
  return [
    { name: `1 file of ${formatBytes(big)}`, files: [bigPath], bytes: big },
    { name: `${small.count} files of ${formatBytes(small.size)}`, files: smallPaths, bytes: small.count * small.size },
  ];
}

/** Each page: an HTML file and its script (and CSS), bundled like section 3's candidates. */
async function bundlePages(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const pages: Record<string, string> = {
    "xhr-loop": '<form><input type="file" multiple></form>',
    ours: '<form><async-file-input name="file" field-id="bench.file" multiple max-files="1000"></async-file-input></form>',
    uppy: '<form><input type="file" multiple></form><div id="uploader"></div>',
  };
  for (const [name, body] of Object.entries(pages)) {
    const outputs = await bundleEntry(`import "${PAGES_DIR}${name}.ts";`, [], { pages: true });
    let head = "";
    for (const output of outputs) {
      const file = output.path.endsWith(".css") ? `${name}.css` : `${name}.js`;
      await writeFile(join(dir, file), output.contents);
      head += file.endsWith(".css") ? `<link rel="stylesheet" href="/static/${file}">` : `<script type="module" src="/static/${file}"></script>`;
    }
    await writeFile(join(dir, `${name}.html`), `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${name}</title>${head}</head><body>${body}</body></html>`);
  }
}
