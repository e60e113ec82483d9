import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import type { Browser, Page, Route } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildClient } from "../../../client/build";
import { startBackend, type TestBackend } from "../../helpers/backends";
import { launchBrowser, watchPageErrors } from "../../helpers/browser";
import { createTestDatabase } from "../../helpers/db";
import { killAndWait } from "../../helpers/kill-and-wait";
import { chooseFiles, formValues, rowStates, waitForRows } from "../component/page-helpers";

const SERVER = fileURLToPath(new URL("./fixtures/instance-server.ts", import.meta.url));
const SECRET = "three-instances-secret-three-instances-0123456789";
const PRINCIPAL = "person-of-three-instances";
const INPUT = "async-file-input";

/** One server process of the three, and what it printed (fixtures/instance-server.ts). */
interface Instance {
  name: string;
  url: string;
  child: ChildProcess;
  /** `METHOD /path` of every request it served. */
  requests(): string[];
  /** `<fileId> <filename>` of every scan its worker ran. */
  scans(): string[];
  output(): string;
}

function startInstance(name: string, env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, ["--import", "tsx", SERVER], {
    env: { ...process.env, ...env, INSTANCE_NAME: name },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const lines = (prefix: string) => stdout.split("\n").filter((line) => line.startsWith(prefix)).map((line) => line.slice(prefix.length));
  child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-8000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in time:\n${stdout}${stderr}`)), 45_000);
    child.once("exit", (code, signal) => reject(new Error(`${name} exited (${code ?? signal}) before listening:\n${stdout}${stderr}`)));
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const url = lines("listening ")[0];
      if (url === undefined) return;
      clearTimeout(timer);
      resolve({
        name,
        url,
        child,
        requests: () => lines("request "),
        scans: () => lines("scan ").map((line) => line.replace(` on ${name}`, "")),
        output: () => `${stdout}${stderr}`,
      });
    });
  });
}

/**
 * Deliverable 4 of issue 14: three server processes on one PostgreSQL schema and one storage. The page
 * and its event stream (GET /events) are on the third; its upload calls (upload-url, the filesystem PUT,
 * POST /process) are sent to the first, as a load balancer would; only the second runs the processing
 * worker (the others start with `processing: { worker: false }`). The scan step is held until the test
 * opens its gate, so the browser is seen showing it; commit on the first and on the third sees the result.
 */
describe.each(["filesystem", "s3"] as const)("three instances on one PostgreSQL and one %s storage", (backendName) => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let backend: TestBackend;
  let browser: Browser;
  let first: Instance, second: Instance, third: Instance;
  const bossSchema = `pgboss_three_${Math.random().toString(16).slice(2, 10)}`;
  const dirs: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    if (!database.url || !database.schema) throw new Error("the three-instance test needs a real PostgreSQL: set DATABASE_URL");
    backend = await startBackend(backendName, { bucket: "three-instances" });
    const [gateDir, bundleDir] = await Promise.all([mkdtemp(join(tmpdir(), "three-gates-")), mkdtemp(join(tmpdir(), "three-client-"))]);
    dirs.push(gateDir, bundleDir);
    const [, launched] = await Promise.all([buildClient({ outdir: bundleDir }), launchBrowser()]);
    browser = launched;
    const env = {
      DATABASE_URL: database.url,
      DATABASE_SCHEMA: database.schema,
      BOSS_SCHEMA: bossSchema,
      SECRET,
      GATE_DIR: gateDir,
      STORAGE: JSON.stringify(backend.root ? { root: backend.root } : { s3: backend.s3 }),
    };
    // The first migrates pg-boss's schema alone; the others then find it made.
    third = await startInstance("instance-3", { ...env, WORKER: "false", COMPONENT_SCRIPT: join(bundleDir, "async-file-input.js") });
    [first, second] = await Promise.all([
      // The page's origin is the third's: the first takes upload calls from it, as behind a proxy.
      startInstance("instance-1", { ...env, WORKER: "false", ALLOWED_ORIGINS: third.url }),
      startInstance("instance-2", { ...env, WORKER: "true" }),
    ]);
    gate = (filename) => writeFile(join(gateDir, filename), "open");
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([first, second, third].filter(Boolean).map((instance) => killAndWait(instance.child, 15_000)));
    if (database?.url) {
      const admin = postgres(database.url, { onnotice: () => {}, max: 1 });
      await admin.unsafe(`drop schema if exists "${bossSchema}" cascade`);
      await admin.end({ timeout: 5 });
    }
    await database?.close();
    await backend?.close();
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }, 60_000);

  let gate: (filename: string) => Promise<void>;

  /** Commits `value` as the app's form save would, on `instance`. */
  async function commitOn(instance: Instance, value: string[]): Promise<{ status: number; body: { keys?: string[]; error?: { code: string; message: string } } }> {
    const response = await fetch(`${instance.url}/test/commit`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: `who=${PRINCIPAL}` },
      body: JSON.stringify({ value, instanceId: "record-1" }),
    });
    return { status: response.status, body: await response.json() };
  }

  /** The page on the third instance; its upload calls go to the first. */
  async function openForm(): Promise<{ page: Page; errors: string[]; proxied: string[] }> {
    const context = await browser.newContext();
    await context.addCookies([{ name: "who", value: PRINCIPAL, domain: "127.0.0.1", path: "/" }]);
    const page = await context.newPage();
    const errors = watchPageErrors(page);
    const proxied: string[] = [];
    const uploadCall = (url: URL) => url.origin === third.url && /^\/async-uploads\/(upload-url|process|fs\/upload\/)/.test(url.pathname);
    await page.route(uploadCall, async (route: Route) => {
      const url = new URL(route.request().url());
      proxied.push(`${route.request().method()} ${url.pathname}`);
      const response = await route.fetch({ url: `${first.url}${url.pathname}${url.search}` });
      await route.fulfill({ response });
    });
    await page.addInitScript(() => {
      const w = window as unknown as { eventSources: string[]; checks: Array<{ name: string; state: string; label: string | null }> };
      w.eventSources = [];
      w.checks = [];
      const Original = window.EventSource;
      window.EventSource = class extends Original {
        constructor(url: string | URL, init?: EventSourceInit) {
          super(url, init);
          w.eventSources.push(new URL(String(url), location.href).href);
        }
      };
      document.addEventListener("async-upload-processing", (event) => {
        const { file, state, label } = (event as CustomEvent).detail;
        w.checks.push({ name: file.name, state, label });
      });
    });
    await page.goto(`${third.url}/form`);
    await page.waitForFunction(() => customElements.get("async-file-input") !== undefined);
    return { page, errors, proxied };
  }

  it("an upload through the first, checked by the worker of the second, reaches the stream of the third; commit on the first and the third sees the result", async () => {
    const { page, errors, proxied } = await openForm();
    const files = ["report.txt", "summary.txt", "virus.txt"];
    await chooseFiles(page, INPUT, files.map((name) => ({ name, mimeType: "text/plain", buffer: Buffer.from(`the text of ${name}\n`) })));

    // Every file is held in the scan step on the second instance, and the browser shows it.
    await expect.poll(() => second.scans().length, { timeout: 20_000 }).toBe(3);
    await waitForRows(page, INPUT, 3, ["checking"]);
    // The stream on the third tells each row that the second's worker is scanning it.
    await page.waitForFunction(
      (selector) => {
        const rows = [...(document.querySelector(selector)?.shadowRoot?.querySelectorAll("li.file") ?? [])];
        return rows.length === 3 && rows.every((row) => row.textContent?.includes("Scanning for viruses…"));
      },
      INPUT,
      { timeout: 15_000 },
    );
    const keys = new Map((await formValues(page, "files")).map((key) => [key.split("/").at(-1)!, key]));
    expect([...keys.keys()].sort()).toEqual(files);
    const key = (name: string) => keys.get(name)!;
    expect((await commitOn(first, [key("report.txt")])).body.error?.message).toBe("This file is still being checked. Wait until it is ready, or remove it.");

    for (const name of files) await gate(name);
    await waitForRows(page, INPUT, 3, ["ready", "rejected"]);
    expect((await rowStates(page, INPUT)).map((state) => state.split(" ").find((name) => name === "ready" || name === "rejected"))).toEqual(["ready", "ready", "rejected"]);

    // Commit on the first and on the third: both see what the second's worker decided.
    const report = await commitOn(first, [key("report.txt")]);
    const summary = await commitOn(third, [key("summary.txt")]);
    expect(report.status).toBe(200);
    expect(summary.status).toBe(200);
    for (const instance of [first, third]) {
      expect(await commitOn(instance, [key("virus.txt")])).toEqual({
        status: 422,
        body: { error: { code: "invalid_upload", message: "This file was rejected: virus.txt contains a test virus." } },
      });
    }
    const stored = await backend.list();
    for (const saved of [...report.body.keys!, ...summary.body.keys!]) expect(stored).toContain(saved);
    // The rejected file's bytes are deleted by the worker right after it recorded the rejection.
    await expect.poll(async () => (await backend.list()).filter((name) => name.endsWith("/virus.txt"))).toEqual([]);

    // Who did what: the browser's stream is on the third, its upload calls reached the first only,
    // and the steps ran on the second only.
    const eventSources = await page.evaluate(() => (window as unknown as { eventSources: string[] }).eventSources);
    expect(eventSources.length).toBeGreaterThan(0);
    for (const url of eventSources) expect(url.startsWith(`${third.url}/async-uploads/events?`)).toBe(true);
    const uploadCalls = (requests: string[]) => requests.filter((request) => /^\w+ \/async-uploads\/(upload-url|process|fs\/upload\/)/.test(request));
    const calls = (requests: string[], call: string) => requests.filter((request) => request.startsWith(call));
    // Files chosen together may share one upload-url request (its batch form); one process and one PUT each.
    expect(calls(first.requests(), "POST /async-uploads/upload-url").length).toBeGreaterThan(0);
    expect(calls(first.requests(), "POST /async-uploads/process")).toHaveLength(3);
    expect(calls(first.requests(), "PUT /async-uploads/fs/upload/")).toHaveLength(backendName === "filesystem" ? 3 : 0);
    expect(uploadCalls(first.requests()).sort()).toEqual([...proxied].sort());
    expect(uploadCalls(third.requests())).toEqual([]);
    expect(third.requests().filter((request) => request === "GET /async-uploads/events").length).toBeGreaterThan(0);
    expect(first.requests().filter((request) => request.endsWith("/events"))).toEqual([]);
    expect(second.requests().filter((request) => request.startsWith("POST /async-uploads") || request.includes("/events"))).toEqual([]);
    expect(first.scans()).toEqual([]);
    expect(third.scans()).toEqual([]);
    expect(second.scans().map((line) => line.split(" ")[1]).sort()).toEqual(files);

    // Each file went checking → scanning → its end, live, in the browser.
    const checks = await page.evaluate(() => (window as unknown as { checks: Array<{ name: string; state: string; label: string | null }> }).checks);
    for (const name of files) {
      const seen = checks.filter((check) => check.name === name).map((check) => (check.state === "running" ? check.label : check.state));
      expect(seen[0], name).toBe("uploaded");
      expect(seen, name).toContain("Scanning for viruses");
      expect(seen.at(-1), name).toBe(name === "virus.txt" ? "rejected" : "passed");
      expect(seen.indexOf("Scanning for viruses"), name).toBeLessThan(seen.length - 1);
    }
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("each instance stops on SIGTERM (worker, pg-boss, LISTEN and open streams closed) and exits 0", async () => {
    // A stream left open on the third: close() must end it, or the process would not exit.
    const { page } = await openForm();
    await page.evaluate(() => new EventSource("/async-uploads/events"));
    await expect.poll(() => third.requests().filter((request) => request === "GET /async-uploads/events").length).toBeGreaterThan(0);
    for (const instance of [first, second, third]) {
      await killAndWait(instance.child, 15_000);
      expect({ name: instance.name, exitCode: instance.child.exitCode, signal: instance.child.signalCode }).toEqual({ name: instance.name, exitCode: 0, signal: null });
    }
    await page.context().close();
  }, 60_000);
});
