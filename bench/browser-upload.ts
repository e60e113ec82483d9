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
import { mkdir, open, rm, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM_PATH, launchBrowser } from "../test/helpers/browser";
import { bundleEntry } from "./lib/bundle";
import { BENCH_FIELD_SINGLE } from "./lib/constants";
import { scratchDir } from "./lib/cleanup";
import { startChild, type Child } from "./lib/child";
import { createBenchDatabase } from "./lib/database";
import { progress, runBench, type Section } from "./lib/report";
import { formatBytes, GiB, KiB, MiB, ratio, round, spread, summarize } from "./lib/stats";
import { versions } from "./lib/versions";
import { DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE } from "../server/multipart/defaults";
import type { PageResult } from "./pages/harness";
import { cpuBetween, cpuSnapshot } from "./lib/proc-cpu";

type Info = { url: string };
type ScenarioId = "big" | "huge" | "many";
interface Scenario {
  id: ScenarioId;
  name: string;
  files: string[];
  bytes: number;
  repeats: number;
}
interface Variant {
  /** Short name for `BENCH_BROWSER_VARIANTS`. */
  id: string;
  name: string;
  /** Run only for the large files (where chunking applies). */
  largeOnly?: boolean;
  /** Also run for the 1 GiB file (one run each: it takes long and fills the storage). */
  huge?: boolean;
  page: string;
  query?: Record<string, string>;
  /** Where the files are chosen. */
  input: string;
  /** The server that serves the page and the routes. @default ours (the S3 driver's default: presigned POST under 8 MiB, PUT from 8 MiB) */
  base?: string;
}

/** The S3 the bench uploads to: s3rver, or Ceph's RADOS Gateway with `BENCH_S3_SERVICE=rgw`. */
const onRgw = process.env.BENCH_S3_SERVICE === "rgw";
const S3_SERVICE = onRgw ? "Ceph RGW" : "s3rver";
/**
 * For measuring one thing at a time (the full bench runs everything): `BENCH_BROWSER_SETS` picks file
 * sets (`many,big,huge`), `BENCH_BROWSER_VARIANTS` uploaders by id (`ours,uppy,xhr,…`),
 * `BENCH_BROWSER_REPEATS` the runs, `BENCH_BROWSER_FILES` the count of small files, and
 * `BENCH_BROWSER_PROFILE` a directory for a Chromium CPU profile of every timed run (its hottest
 * functions and the requests the page made are printed; profiling slows the page, so its times are
 * not for the table); `BENCH_BROWSER_CPU=1` (or a profile) prints each timed run's CPU time by process
 * (storage, our server, Companion, Chromium's renderer and network processes; bench/lib/proc-cpu.ts).
 * `BENCH_BROWSER_BASELINE=<dir>` adds the variant `ours-base`: the component from another copy of the
 * repository (`git archive <commit> client shared bench/pages | tar -x -C <dir>`, with a `node_modules`
 * link), for a change measured side by side with what it changes, in the same run.
 */
const chosen = (name: string) => process.env[name]?.split(",").map((value) => value.trim()).filter(Boolean);
const PROFILE_DIR = process.env.BENCH_BROWSER_PROFILE;
/** Child pids → names, for the CPU time each process spends during a timed run (`/proc`, printed per run). */
const cpuRoots: Record<number, string> = {};

const PAGES_DIR = fileURLToPath(new URL("./pages/", import.meta.url));
const BASELINE_DIR = process.env.BENCH_BROWSER_BASELINE;

await runBench(async ({ quick }) => {
  // RGW keeps its objects in memory (memstore; the bench deletes none): one repeat, and the large file
  // at its full 100 MiB even with --quick (smaller files would never be chunked). The 1 GiB file is
  // left out of --quick.
  const repeats = Number(process.env.BENCH_BROWSER_REPEATS) || (quick || onRgw ? 1 : 3);
  const sets = new Set(chosen("BENCH_BROWSER_SETS") ?? (quick ? ["many", "big"] : ["many", "big", "huge"]));
  const big = quick && !onRgw ? 20 * MiB : 100 * MiB;
  const small = { count: Number(process.env.BENCH_BROWSER_FILES) || (quick ? 40 : 200), size: 50 * KiB };
  if (onRgw && sets.has("huge")) {
    // Room for a few 1 GiB objects in RGW's memory store (test/helpers/rgw.ts caps it at 2 GiB);
    // the Ceph daemons it starts read CEPH_ARGS.
    process.env.CEPH_ARGS = `${process.env.CEPH_ARGS ?? ""} --memstore_device_bytes=${8 * GiB}`.trim();
  }

  const database = await createBenchDatabase();
  const scratch = await scratchDir("bench-browser-");
  const children: Child<Info>[] = [];
  let browser: Browser | undefined;
  try {
    progress("browser-upload: writing the files and bundling the pages");
    const scenarios = (await writeFiles(scratch, big, small, sets)).map((scenario) => ({ ...scenario, repeats: scenario.id === "huge" ? 1 : repeats }));
    const staticDir = join(scratch, "static");
    await bundlePages(staticDir);

    // BENCH_S3_SERVICE=rgw: Ceph's RADOS Gateway instead of s3rver (which rewrites every part on completion).
    const s3rver = await startChild<Info & { endpoint: string }>(onRgw ? "servers/rgw-server.ts" : "servers/s3rver-server.ts");
    children.push(s3rver);
    cpuRoots[s3rver.pid] = onRgw ? "storage (Ceph RGW + mon + osd)" : "storage (s3rver)";
    const env = { BENCH_DB_URL: database.url, BENCH_DB_SCHEMA: database.schema, BENCH_S3: JSON.stringify(s3rver.info) };
    const ours = await startChild<Info>("servers/async-uploads-server.ts", [], { ...env, BENCH_BACKEND: "s3", BENCH_STATIC_DIR: staticDir });
    children.push(ours);
    cpuRoots[ours.pid] = "our server (default)";
    // The same server with presigned PUT URLs (s3Storage's uploadMethod "PUT"), as Uppy's aws-s3 sends.
    const oursWithPut = await startChild<Info>("servers/async-uploads-server.ts", [], { ...env, BENCH_BACKEND: "s3", BENCH_STATIC_DIR: staticDir, BENCH_S3_UPLOAD_METHOD: "PUT" });
    children.push(oursWithPut);
    cpuRoots[oursWithPut.pid] = "our server (PUT)";
    const companion = await startChild<Info>("servers/companion-server.ts", [], env);
    children.push(companion);
    cpuRoots[companion.pid] = "Companion";
    browser = await launchBrowser();

    const xhrLoop: Variant = { id: "xhr", name: "plain XHR loop (6 at a time, as ours)", page: "xhr-loop", input: "input[type=file]" };
    const oursDefault: Variant = { id: "ours", name: "async-uploads `<async-file-input>`", page: "ours", input: "async-file-input input[type=file]", huge: true };
    const oursSingle: Variant = {
      id: "ours-single",
      name: "async-uploads `<async-file-input>`, one request per file (`multipartThreshold: Infinity`)",
      page: "ours",
      query: { field: BENCH_FIELD_SINGLE },
      input: "async-file-input input[type=file]",
      largeOnly: true,
    };
    const oursPut: Variant = {
      id: "ours-put",
      name: "async-uploads `<async-file-input>`, presigned PUT (`uploadMethod: \"PUT\"`)",
      page: "ours",
      input: "async-file-input input[type=file]",
      base: oursWithPut.info.url,
    };
    const oursPutSingle: Variant = { ...oursPut, id: "ours-put-single", name: `${oursPut.name}, one request per file`, query: { field: BENCH_FIELD_SINGLE }, largeOnly: true, huge: true };
    const uppyDefault: Variant = { id: "uppy", name: "Uppy aws-s3 via Companion (defaults: limit 6, multipart above 100 MiB)", page: "uppy", query: { companion: companion.info.url }, input: "input[type=file]", huge: true };
    const uppy3: Variant = { id: "uppy3", name: "Uppy aws-s3 via Companion (limit 3)", page: "uppy", query: { companion: companion.info.url, limit: "3" }, input: "input[type=file]" };
    const uppyDashboard: Variant = {
      id: "uppy-dashboard",
      name: "Uppy + Dashboard UI via Companion (defaults)",
      page: "uppy",
      query: { companion: companion.info.url, dashboard: "1" },
      input: 'input.uppy-Dashboard-input[name="files[]"]:not([webkitdirectory])',
    };
    const oursBase: Variant = { ...oursDefault, id: "ours-base", name: `async-uploads \`<async-file-input>\` from ${BASELINE_DIR}`, page: "ours-base", huge: false };
    const allVariants = [xhrLoop, oursDefault, ...(BASELINE_DIR ? [oursBase] : []), oursSingle, oursPut, oursPutSingle, uppyDefault, uppy3, uppyDashboard];
    const onlyVariants = chosen("BENCH_BROWSER_VARIANTS");
    const variants = allVariants.filter((variant) => !onlyVariants || onlyVariants.includes(variant.id));
    const runsFor = (scenario: Scenario) =>
      variants.filter((variant) => (scenario.id === "huge" ? variant.huge : scenario.id === "big" || !variant.largeOnly));

    // One untimed run per page first: compiles the servers' and the browser's code paths.
    progress("browser-upload: warming up");
    const warmUpFiles = (await writeFiles(join(scratch, "warm-up"), 0, { count: 10, size: 50 * KiB }, new Set(["many"])))[0]!.files;
    for (const variant of variants) await runOnce(browser, variant.base ?? ours.info.url, variant, warmUpFiles);

    const times = new Map<string, number[]>();
    for (const scenario of scenarios) {
      for (let repeat = 0; repeat < scenario.repeats; repeat++) {
        const scenarioVariants = runsFor(scenario);
        for (let i = 0; i < scenarioVariants.length; i++) {
          const variant = scenarioVariants[(i + repeat) % scenarioVariants.length]!;
          progress(`browser-upload: ${repeat + 1}/${scenario.repeats}, ${scenario.name}, ${variant.name} (load ${loadavg()[0]!.toFixed(2)})`);
          const profile = PROFILE_DIR ? join(PROFILE_DIR, `${scenario.id}-${variant.id}-${repeat + 1}`) : undefined;
          const result = await runOnce(browser, variant.base ?? ours.info.url, variant, scenario.files, profile);
          progress(`browser-upload:   ${round(result.ms, 4)} ms`);
          const key = `${scenario.name}|${variant.name}`;
          times.set(key, [...(times.get(key) ?? []), result.ms]);
        }
      }
    }

    const median = (scenario: Scenario, variant: Variant) => {
      const values = times.get(`${scenario.name}|${variant.name}`);
      return values ? summarize(values).median : undefined;
    };
    const tables = scenarios.map((scenario) => {
      const ourMs = median(scenario, oursDefault);
      return {
        caption: `${scenario.name} (${formatBytes(scenario.bytes)} in all, ${scenario.repeats} run(s) each): wall time in ms, lower is better`,
        headers: ["uploader", "wall time ms", "MiB/s", "ours vs this"],
        rows: runsFor(scenario).map((variant) => {
          const s = summarize(times.get(`${scenario.name}|${variant.name}`)!);
          return [variant.name, spread(s, (value) => round(value, 3)), round(scenario.bytes / MiB / (s.median / 1000), 3), variant === oursDefault ? "—" : ourMs === undefined ? "n/a" : ratio(ourMs, s.median)];
        }),
      };
    });
    const chromium = browser.version();
    const headline = scenarios.flatMap((scenario) => {
      const [xhr, ourMs, uppy, single] = [xhrLoop, oursDefault, uppyDefault, oursPutSingle].map((variant) => median(scenario, variant));
      if (ourMs === undefined) return [];
      const rows: string[][] = [];
      if (uppy !== undefined) rows.push([`4. browser upload to ${S3_SERVICE}, ${scenario.name}, ms`, round(ourMs, 3), `Uppy aws-s3 ${round(uppy, 3)}`, ratio(ourMs, uppy)]);
      if (xhr !== undefined) rows.push([`4. browser upload to ${S3_SERVICE}, ${scenario.name}, ms (our overhead)`, round(ourMs, 3), `plain XHR loop ${round(xhr, 3)}`, ratio(ourMs, xhr)]);
      if (single !== undefined && uppy !== undefined) rows.push([`4. browser upload to ${S3_SERVICE}, ${scenario.name}, ms (ours, one presigned PUT)`, round(single, 3), `Uppy aws-s3 ${round(uppy, 3)}`, ratio(single, uppy)]);
      return rows;
    });

    return {
      order: 4,
      title: `Uploading in the browser (headless Chromium → ${S3_SERVICE})`,
      method: [
        `Chromium ${chromium} (${CHROMIUM_PATH}, headless, launch settings of test/helpers/browser.ts), ${versions("playwright-core", "s3rver", "@uppy/core", "@uppy/aws-s3", "@uppy/dashboard", "@uppy/companion")}.`,
        `Every uploader signs with a server (ours: \`POST /async-uploads/upload-url\`, which inserts the row that makes commit and cleanup safe, and for files chosen together answers them all in one request; Uppy: Companion's \`GET /s3/params\` per file) and sends each file to storage as one presigned request (a CORS POST of a form, or a PUT; ours by default POSTs files under 8 MiB and PUTs larger ones), or as an S3 multipart upload: ours from the field's \`multipartThreshold\` (default ${formatBytes(DEFAULT_MULTIPART_THRESHOLD)}) in parts of its \`partSize\` (default ${formatBytes(DEFAULT_PART_SIZE)}), 6 at a time; Uppy above 100 MiB in 5 MiB parts, up to 6 at a time. Storage answers CORS preflights with a max-age, so the POSTs of many files share one; every presigned PUT URL (a part, or a file with \`uploadMethod: "PUT"\`) has its own.`,
        "The storage, our server (S3 backend; it also serves the pages) and Companion run in separate child processes; Chromium and the bench are separate processes too — all on the machine's 2 cores.",
        `Files written to disk before timing (random bytes), chosen with \`setInputFiles\` by path. Time measured in the page from the file input's \`change\` event to the last upload's end. A fresh browser context per run; one untimed warm-up run per page. Runs per uploader and file set as in each table's caption, in rotating order; median (min–max). The 1 GiB file: one run each, ours and Uppy at their defaults and ours with one presigned PUT.`,
        "The pages are bundled with the same esbuild configuration as section 3.",
      ],
      tables,
      headline,
      notes: scenarios.flatMap((scenario) => {
        const [xhr, ourMs, uppy] = [xhrLoop, oursDefault, uppyDefault].map((variant) => median(scenario, variant));
        if (ourMs === undefined) return [];
        const parts = [uppy !== undefined && `${ratio(ourMs, uppy)} Uppy's time with its default settings`, xhr !== undefined && `${ratio(ourMs, xhr)} the plain XHR loop's (our overhead)`].filter(Boolean);
        return parts.length ? [`${scenario.name}: ours takes ${parts.join(" and ")}.`] : [];
      }),
    } satisfies Section;
  } finally {
    await browser?.close().catch(() => {});
    await Promise.allSettled(children.map((child) => child.stop()));
    await database.close();
    await rm(scratch, { recursive: true, force: true });
  }
});

async function runOnce(browser: Browser, base: string, variant: Variant, files: string[], profileTo?: string): Promise<PageResult> {
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
    const profiler = profileTo ? await startProfile(page) : undefined;
    const cpuBefore = cpuSnapshot(cpuRoots);
    const wallBefore = performance.now();
    await page.locator(variant.input).first().setInputFiles(files);
    const handle = await page.waitForFunction(() => window.bench.result, undefined, { timeout: 900_000, polling: 50 });
    const result = (await handle.jsonValue()) as PageResult;
    if (profileTo || process.env.BENCH_BROWSER_CPU) {
      // Which process did the work (the timed window plus Playwright's file choosing and polling).
      const wall = performance.now() - wallBefore;
      const spent = [...cpuBetween(cpuBefore, cpuSnapshot(cpuRoots))].sort((a, b) => b[1] - a[1]);
      const total = spent.reduce((sum, [, ms]) => sum + ms, 0);
      progress(`cpu ${variant.id}: wall ${round(wall, 4)} ms, CPU ${round(total, 4)} ms: ${spent.map(([label, ms]) => `${label} ${round(ms, 3)} (${Math.round((100 * ms) / wall)}%)`).join(", ")}`);
    }
    if (profiler && profileTo) await profiler.stop(profileTo);
    if (result.failed > 0 || result.done !== files.length || errors.length > 0) {
      throw new Error(`${variant.name}: ${result.done}/${files.length} uploaded, errors: ${[...result.errors, ...errors].join("; ")}`);
    }
    return result;
  } finally {
    await context.close();
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/**
 * A CPU profile of the page's main thread (CDP Profiler), and its requests by method and port (CDP
 * Network, which also reports CORS preflights): written as `<to>.cpuprofile`, summed up on stderr.
 */
async function startProfile(page: Page): Promise<{ stop(to: string): Promise<void> }> {
  const cdp = await page.context().newCDPSession(page);
  const requests = new Map<string, number>();
  cdp.on("Network.requestWillBeSent", ({ request, type }: { request: { method: string; url: string }; type?: string }) => {
    const label = `${type === "Preflight" ? "preflight" : request.method} :${new URL(request.url).port}`;
    requests.set(label, (requests.get(label) ?? 0) + 1);
  });
  await cdp.send("Network.enable");
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
  await cdp.send("Profiler.start");
  const browser = page.context().browser()!;
  await browser.startTracing(page, { categories: ["devtools.timeline"] });
  return {
    async stop(to) {
      await mkdir(dirname(to), { recursive: true });
      progress(`trace ${to}: ${summarizeTrace(await browser.stopTracing())}`);
      const { profile } = (await cdp.send("Profiler.stop")) as { profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } };
      await writeFile(`${to}.cpuprofile`, JSON.stringify(profile));
      // Self time by function (URL basename and line), from the samples' time deltas.
      const self = new Map<number, number>();
      profile.samples.forEach((node, i) => self.set(node, (self.get(node) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
      const byFunction = new Map<string, number>();
      let total = 0;
      for (const node of profile.nodes) {
        const ms = self.get(node.id) ?? 0;
        total += ms;
        const { functionName, url, lineNumber } = node.callFrame;
        const label = `${functionName || "(anonymous)"} ${url ? `${url.slice(url.lastIndexOf("/") + 1)}:${lineNumber + 1}` : ""}`.trim();
        byFunction.set(label, (byFunction.get(label) ?? 0) + ms);
      }
      const top = [...byFunction].filter(([label]) => label !== "(idle)").sort((a, b) => b[1] - a[1]).slice(0, 12);
      const idle = byFunction.get("(idle)") ?? 0;
      progress(`profile ${to}: ${round(total, 4)} ms sampled, ${round(total - idle, 4)} busy; requests ${[...requests].map(([label, count]) => `${label} ×${count}`).join(", ")}`);
      for (const [label, ms] of top) progress(`  ${round(ms, 3).padStart(8)} ms  ${label}`);
      await cdp.detach();
    },
  };
}

/** The renderer main thread's time and count by trace event (nested events are counted in their parents too). */
function summarizeTrace(trace: Buffer): string {
  const { traceEvents } = JSON.parse(trace.toString("utf8")) as { traceEvents: Array<{ name: string; ph: string; dur?: number; pid: number; tid: number; args?: { name?: string } }> };
  const main = new Set(traceEvents.filter((event) => event.name === "thread_name" && event.args?.name === "CrRendererMain").map((event) => `${event.pid}:${event.tid}`));
  const byName = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const event of traceEvents) {
    if (event.ph !== "X" || !event.dur || !main.has(`${event.pid}:${event.tid}`)) continue;
    byName.set(event.name, (byName.get(event.name) ?? 0) + event.dur / 1000);
    counts.set(event.name, (counts.get(event.name) ?? 0) + 1);
  }
  return [...byName].sort((a, b) => b[1] - a[1]).slice(0, 14).map(([name, ms]) => `${name} ${round(ms, 3)} ms ×${counts.get(name)}`).join(", ");
}

async function writeFiles(dir: string, big: number, small: { count: number; size: number }, sets: Set<string>): Promise<Omit<Scenario, "repeats">[]> {
  await mkdir(dir, { recursive: true });
  const scenarios: Omit<Scenario, "repeats">[] = [];
  for (const [id, size] of [["big", big], ["huge", GiB]] as const) {
    if (!sets.has(id)) continue;
    const path = join(dir, `${id}.bin`);
    // Written in 64 MiB pieces: one 1 GiB buffer would be more memory than a bench should take.
    const handle = await open(path, "w");
    for (let written = 0; written < size; written += 64 * MiB) await handle.write(randomBytes(Math.min(64 * MiB, size - written)));
    await handle.close();
    scenarios.push({ id, name: `1 file of ${formatBytes(size)}`, files: [path], bytes: size });
  }
  if (sets.has("many")) {
    const smallPaths: string[] = [];
    for (let i = 0; i < small.count; i++) {
      const path = join(dir, `small-${String(i).padStart(3, "0")}.bin`);
      await writeFile(path, randomBytes(small.size));
      smallPaths.push(path);
    }
    scenarios.push({ id: "many", name: `${small.count} files of ${formatBytes(small.size)}`, files: smallPaths, bytes: small.count * small.size });
  }
  return scenarios;
}

/** Each page: an HTML file and its script (and CSS), bundled like section 3's candidates. */
async function bundlePages(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const pages: Record<string, string> = {
    "xhr-loop": '<form><input type="file" multiple></form>',
    ours: '<form><async-file-input name="file" field-id="bench.file" multiple max-files="1000"></async-file-input></form>',
    uppy: '<form><input type="file" multiple></form><div id="uploader"></div>',
  };
  const sources: Record<string, string> = Object.fromEntries(Object.keys(pages).map((name) => [name, `${PAGES_DIR}${name}.ts`]));
  if (BASELINE_DIR) {
    pages["ours-base"] = pages.ours!;
    sources["ours-base"] = join(BASELINE_DIR, "bench/pages/ours.ts");
  }
  for (const [name, body] of Object.entries(pages)) {
    const outputs = await bundleEntry(`import "${sources[name]}";`, [], { pages: true });
    let head = "";
    for (const output of outputs) {
      const file = output.path.endsWith(".css") ? `${name}.css` : `${name}.js`;
      await writeFile(join(dir, file), output.contents);
      head += file.endsWith(".css") ? `<link rel="stylesheet" href="/static/${file}">` : `<script type="module" src="/static/${file}"></script>`;
    }
    await writeFile(join(dir, `${name}.html`), `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${name}</title>${head}</head><body>${body}</body></html>`);
  }
}
