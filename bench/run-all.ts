/**
 * `npm run bench`: runs every bench script, one after another, each in its own process, and writes
 * bench/RESULTS.md (the machine, the date, every figure as median (min–max) and its ratio to the
 * peer). `--quick` is a short smoke run written to a temp file instead; `--only name[,name]` runs some
 * scripts and prints them without touching RESULTS.md.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, release, tmpdir, totalmem, type as osType } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { BENCH_DATABASE_URL } from "./lib/database";
import { markdownSection, markdownTable, type Section } from "./lib/report";
import { GiB, round } from "./lib/stats";

const BENCH_DIR = fileURLToPath(new URL(".", import.meta.url));
const SCRIPTS = ["upload-url", "fs-streaming", "bundle-size", "browser-upload", "browser-upload-rgw", "commit-cleanup", "multipart", "live", "exports"] as const;
/**
 * Entries that run a script under another name: the browser uploads again against Ceph's RADOS Gateway,
 * a real S3 (s3rver rewrites every part on completion, which a real S3 does not).
 */
const VARIANTS: Partial<Record<(typeof SCRIPTS)[number], { script: string; env: Record<string, string> }>> = {
  "browser-upload-rgw": { script: "browser-upload", env: { BENCH_S3_SERVICE: "rgw" } },
};
/** Each script's own bound (the browser runs upload 1 GiB files, one run per uploader). */
const SCRIPT_TIMEOUT_MS = 10 * 60_000;

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, only: { type: "string" } } });
const quick = values.quick ?? false;
const only = values.only ? values.only.split(",").map((name) => name.trim()) : undefined;
const unknown = only?.filter((name) => !(SCRIPTS as readonly string[]).includes(name));
if (unknown?.length) throw new Error(`unknown bench ${unknown.join(", ")}; choose from ${SCRIPTS.join(", ")}`);
const scripts = SCRIPTS.filter((name) => !only || only.includes(name));

const started = new Date();
const machine = await describeMachine();
const work = await mkdtemp(join(tmpdir(), "async-uploads-bench-"));
const sections: Section[] = [];
const load: string[] = [];
const failed: string[] = [];
try {
  for (const name of scripts) {
    const before = loadavg()[0]!;
    const json = join(work, `${name}.json`);
    try {
      await runScript(name, [...(quick ? ["--quick"] : []), "--json", json]);
      sections.push(JSON.parse(await readFile(json, "utf8")) as Section);
    } catch (error) {
      // One script failing (a service that would not start, a timeout) must not lose the others' figures.
      console.error(error);
      failed.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
    load.push(`${name} ${round(before, 2)} → ${round(loadavg()[0]!, 2)}`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}

const minutes = (Date.now() - started.getTime()) / 60_000;
const markdown = render();
const out = only ? join(tmpdir(), "async-uploads-bench-partial.md") : quick ? join(tmpdir(), "async-uploads-bench-quick.md") : join(BENCH_DIR, "RESULTS.md");
await writeFile(out, markdown);
console.log(only ? markdown : "");
console.log(`[bench] done in ${round(minutes, 2)} min; wrote ${out}`);
if (failed.length) process.exitCode = 1;

function render(): string {
  const headline = sections.flatMap((section) => section.headline);
  return [
    "# Benchmarks: async-uploads beside the tools users would pick instead",
    `Written by \`npm run bench\`${quick ? " --quick (a smoke run: figures are not meaningful)" : ""} on ${started.toISOString().replace("T", " ").slice(0, 16)} UTC; the whole run took ${round(minutes, 2)} min. ` +
      "Every figure is the median over repeated runs with (min–max); ratios are ours ÷ peer, measured side by side in the same run on the same machine. " +
      "Each script is in `bench/` (one per question) and runs alone with `npx tsx bench/<name>.ts [--quick]`. " +
      "Needs PostgreSQL at `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`; each script works in a fresh schema and drops it) and Chromium at `CHROMIUM_PATH` (default `/usr/bin/chromium`); s3rver, Azurite, Companion and the peers come from npm and run locally.",
    markdownTable({ caption: "## Machine", headers: ["", ""], rows: machine }),
    `Other work on the machine (1-minute load average before → after each script; 2 cores): ${load.join("; ")}. Anything above ~2 means other processes (other engineers' test runs) competed for the CPU during that script, and its figures carry that noise.`,
    ...(failed.length ? [`**Scripts that failed in this run** (no figures below for them): ${failed.join("; ")}.`] : []),
    markdownTable({ caption: "## Summary", headers: ["question", "ours", "peer", "ours vs peer"], rows: headline }),
    ...sections.sort((a, b) => a.order - b.order).map(markdownSection),
  ].join("\n\n") + "\n";
}

function runScript(name: (typeof SCRIPTS)[number], args: string[]): Promise<void> {
  const { script, env } = VARIANTS[name] ?? { script: name, env: {} };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(BENCH_DIR, `${script}.ts`), ...args], {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, ...env, NODE_NO_WARNINGS: "1" },
    });
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`[bench] ${name} took longer than ${SCRIPT_TIMEOUT_MS / 60_000} min`));
    }, SCRIPT_TIMEOUT_MS);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`[bench] ${name} failed (${code ?? signal})`));
    });
  });
}

async function describeMachine(): Promise<string[][]> {
  const cpu = cpus();
  const sql = postgres(BENCH_DATABASE_URL, { onnotice: () => {}, max: 1 });
  let pg = "?";
  try {
    const [row] = await sql<{ version: string }[]>`select version()`;
    pg = row?.version.split(" on ")[0] ?? "?";
  } catch (error) {
    throw new Error(`[bench] PostgreSQL is not reachable at ${BENCH_DATABASE_URL} (set DATABASE_URL): ${String(error)}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
  let chromium = "?";
  try {
    chromium = execFileSync(process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", ["--version"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    // reported by section 4 when it runs
  }
  return [
    ["date", started.toISOString()],
    ["CPU", `${cpu[0]?.model ?? "?"}${cpuDetails()}`],
    ["cores", String(cpu.length)],
    ["memory", `${round(totalmem() / GiB, 3)} GiB`],
    ["OS", `${osType()} ${release()}`],
    ["Node.js", process.version],
    ["PostgreSQL", `${pg} (${BENCH_DATABASE_URL.replace(/\/\/[^@]*@/, "//")})`],
    ["Chromium", chromium],
  ];
}

/** Family, model and virtualisation from /proc/cpuinfo (the model name alone can be as vague as "AMD EPYC"). */
function cpuDetails(): string {
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(info)?.[1]?.trim();
    const virtual = /^flags\s*:.*\bhypervisor\b/m.test(info) ? ", virtual machine" : "";
    const mhz = field("cpu MHz");
    return ` (family ${field("cpu family") ?? "?"}, model ${field("model") ?? "?"}${mhz ? `, ${Math.round(Number(mhz))} MHz` : ""}${virtual})`;
  } catch {
    return "";
  }
}
