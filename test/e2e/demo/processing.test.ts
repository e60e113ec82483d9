import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, watchPageErrors } from "../../helpers/browser";
import { chooseFiles, waitForRows, type TestFile } from "../component/page-helpers";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const SCREENSHOT = join(REPO, "docs/screenshots/processing.png");
const ATTACHMENT = "#attachment-input";

/** `npm start` as a person runs it: PGlite and files under a fresh DATA_DIR, in a process group of its own. */
interface NpmStart {
  url: string;
  dataDir: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Starts the demo with `npm start`, or with the command behind it (`tsx demo/main.ts`, what a process
 * manager should run: npm itself exits on SIGTERM without passing it on, leaving the app running).
 */
async function startDemo(command: "npm start" | "tsx demo/main.ts", attempt = 1): Promise<NpmStart> {
  const dataDir = await mkdtemp(join(tmpdir(), "demo-processing-"));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), DATA_DIR: dataDir, STORAGE_BACKEND: "filesystem" };
  // The defaults of a fresh clone: embedded PGlite, a generated secret.
  delete env.DATABASE_URL;
  delete env.ASYNC_UPLOADS_SECRET;
  delete env.NODE_ENV;
  const [executable, ...args] = command === "npm start" ? ["npm", "start"] : [join(REPO, "node_modules/.bin/tsx"), "demo/main.ts"];
  const child = spawn(executable!, args, { cwd: REPO, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 100_000;
  while (!output.includes(`http://localhost:${port}/`)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      // Nothing left behind: the whole group is stopped and its data removed before giving up.
      if (groupAlive(child.pid!)) process.kill(-child.pid!, "SIGKILL");
      await exited;
      await rm(dataDir, { recursive: true, force: true });
      // The free port can be taken by another process of this busy machine before the demo listens.
      if (output.includes("is already in use") && attempt < 3) return startDemo(command, attempt + 1);
      throw new Error(`${command} did not come up:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { url: `http://127.0.0.1:${port}`, dataDir, child, exited, output: () => output };
}

/** True while any process of the group `pgid` (npm, its shell, tsx, the demo's node) is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1));
}

/**
 * Issue 14's "done when", as `npm start` runs it out of the box (test/e2e/demo/virus-scan.test.ts runs
 * the same app in-process on PostgreSQL): the attachment's stand-in virus scan (demo/scan-step.ts,
 * 1.5 s) runs as pg-boss jobs on the embedded PGlite in the demo's own process, the form shows
 * Checking → Scanning for viruses → Ready live through GET /events, and Ctrl-C or SIGTERM stops
 * everything (event streams, worker, pg-boss, LISTEN, PGlite) and leaves no process.
 */
describe("npm start: upload processing in the demo (PGlite, filesystem)", () => {
  let browser: Browser;
  const started: NpmStart[] = [];
  /**
   * The second test's demo, started while the first test runs: most of each test is a demo coming up
   * (tsx, PGlite, migrations), and the two share nothing (own port, DATA_DIR, process group).
   */
  let sigtermDemo: Promise<NpmStart>;

  beforeAll(async () => {
    sigtermDemo = startDemo("tsx demo/main.ts").then((demo) => (started.push(demo), demo));
    sigtermDemo.catch(() => {}); // reported by the test that awaits it
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await sigtermDemo?.catch(() => {});
    for (const demo of started) {
      if (demo.child.pid && groupAlive(demo.child.pid)) {
        process.kill(-demo.child.pid, "SIGKILL");
        await demo.exited;
      }
      await rm(demo.dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  async function newDocumentPage(demo: NpmStart): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 720, height: 600 }, deviceScaleFactor: 2, acceptDownloads: true });
    const page = await context.newPage();
    const errors = watchPageErrors(page);
    await page.addInitScript(() => {
      // What the attachment row says after each change the server reports (async-upload-processing).
      const shown: string[] = [];
      (window as unknown as { shown: string[] }).shown = shown;
      document.addEventListener("async-upload-processing", (event) => {
        const { state, label } = (event as CustomEvent).detail;
        const text = state === "passed" ? "Ready" : state === "rejected" ? "Rejected" : state === "failed" ? "Could not be checked" : `${label || "Checking"}…`;
        if (shown.at(-1) !== text) shown.push(text);
      });
    });
    await page.goto(`${demo.url}/documents/new`);
    await page.waitForFunction(() => customElements.get("async-file-input") !== undefined);
    return { page, errors };
  }

  /** Opens an event stream of the page's own and waits until the server answered it. */
  const openStream = (page: Page) =>
    page.evaluate(
      () =>
        new Promise<void>((resolve, reject) => {
          const source = new EventSource("/async-uploads/events");
          source.onopen = () => resolve();
          source.onerror = () => reject(new Error("the event stream did not open"));
        }),
    );

  it("shows Checking → Scanning for viruses → Ready on /documents/new, saves the file, and stops on Ctrl-C leaving no process", async () => {
    const demo = await startDemo("npm start");
    started.push(demo);
    const { page, errors } = await newDocumentPage(demo);
    const file: TestFile = { name: "annual report.txt", mimeType: "text/plain", buffer: Buffer.from("The annual report, checked before it is saved.\n".repeat(40)) };
    await page.getByLabel("Title").fill("Annual report");
    await chooseFiles(page, ATTACHMENT, [file]);
    await page.waitForFunction((selector) => document.querySelector(selector)?.shadowRoot?.textContent?.includes("Scanning for viruses…"), ATTACHMENT, {
      timeout: 20_000,
    });
    const validationMessage = () => page.$eval(ATTACHMENT, (element) => (element as HTMLElement & { validationMessage: string }).validationMessage);
    expect(await validationMessage()).toBe("annual report.txt is still being checked.");
    const png = await page.screenshot();
    // docs/screenshots/processing.png, shown in the README: written when missing or asked for (UPDATE_SCREENSHOTS=1).
    if (process.env.UPDATE_SCREENSHOTS === "1" || !existsSync(SCREENSHOT)) await writeFile(SCREENSHOT, png);

    await waitForRows(page, ATTACHMENT, 1, ["ready"]);
    expect(await validationMessage()).toBe("");
    expect(await page.evaluate(() => (window as unknown as { shown: string[] }).shown)).toEqual(["Checking…", "Scanning for viruses…", "Ready"]);

    await Promise.all([page.waitForURL(/\/documents\/[0-9a-f-]{36}$/), page.getByRole("button", { name: "Save" }).click()]);
    const id = new URL(page.url()).pathname.split("/").pop()!;
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("attachment-download").click()]);
    expect(download.suggestedFilename()).toBe("annual report.txt");
    expect((await readFile((await download.path())!)).equals(file.buffer)).toBe(true);
    expect((await filesUnder(join(demo.dataDir, "files"))).filter((path) => path.startsWith(`documents/${id}/attachment/`))).toHaveLength(1);
    expect(errors).toEqual([]);

    // Ctrl-C in a terminal: SIGINT to the whole foreground process group, with a stream still open.
    await openStream(page);
    process.kill(-demo.child.pid!, "SIGINT");
    // npm ends itself by the signal (so that the shell knows); the demo under it must have stopped.
    expect([{ code: 0, signal: null }, { code: null, signal: "SIGINT" }], demo.output()).toContainEqual(await demo.exited);
    await expect.poll(() => groupAlive(demo.child.pid!), { timeout: 15_000 }).toBe(false);
    expect(demo.output(), demo.output()).not.toMatch(/error/i);
    await page.context().close();
  }, 150_000);

  it("stops on SIGTERM from a process manager, with a stream open: exits 0 and leaves no process", async () => {
    const demo = await sigtermDemo;
    const { page } = await newDocumentPage(demo);
    await openStream(page);
    demo.child.kill("SIGTERM");
    // tsx passes the signal to the demo's node and exits with its code.
    expect(await demo.exited, demo.output()).toEqual({ code: 0, signal: null });
    await expect.poll(() => groupAlive(demo.child.pid!), { timeout: 15_000 }).toBe(false);
    expect(demo.output(), demo.output()).not.toMatch(/error/i);
    await page.context().close();
  }, 150_000);
});
