import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll } from "vitest";
import { launchBrowser } from "../../helpers/browser";
import { ACCEPT, MAX_SIZE, openPage, startComponentServer, type ComponentServer } from "./harness";
import { waitForRows, waitForShadowText } from "./page-helpers";

export const INPUT = "async-file-input";
/** Up to several text or image files, each scanned: the scan waits on the file name's gate, rejects "virus" names. */
export const SCANNED = "e2e.scanned";
/** One file, converted by a step that throws (no retry) while `flaky.fails` is set. */
export const FLAKY = "e2e.flaky";

/** Opens when the test says so: a step that waits on it takes as long as the test needs to look. */
class Gate {
  #open!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.#open = resolve));
  open(): void {
    this.#open();
  }
}

/**
 * Upload processing in the form (issue 14), through the real server: createAsyncUploads with fields that
 * declare steps, `uploads.start()` (pg-boss on the test database), POST /process, GET /events with
 * LISTEN/NOTIFY, and the built element in Chromium, started around the surrounding `describe`. The scan
 * step waits on a gate per file name, so a test sees "Scanning for viruses…" for as long as it looks.
 */
export function useProcessingSession() {
  let server: ComponentServer;
  let browser: Browser;
  const pages: Page[] = [];
  const gates = new Map<string, Gate>();
  const gate = (filename: string) => gates.get(filename) ?? gates.set(filename, new Gate()).get(filename)!;
  const flaky = { fails: true };
  const bossSchema = `pgboss_e2e_${randomBytes(5).toString("hex")}`;

  beforeAll(async () => {
    // pg-boss's tables in a schema of this file's own: another file's worker must not take its jobs.
    const processing = { schema: bossSchema, pollingIntervalSeconds: 0.5 };
    [server, browser] = await Promise.all([startComponentServer("filesystem", { processing }), launchBrowser()]);
    const accept = ACCEPT.split(", ");
    server.uploads.registry.register(SCANNED, {
      maxSize: MAX_SIZE,
      accept,
      multiple: true,
      processing: [
        {
          name: "scan",
          label: "Scanning for viruses",
          async run({ filename }) {
            await gate(filename).opened;
            return /virus/.test(filename) ? { reject: `${filename} contains a test virus.` } : undefined;
          },
        },
      ],
    });
    server.uploads.registry.register(FLAKY, {
      maxSize: MAX_SIZE,
      accept,
      processing: [
        {
          name: "convert",
          label: "Converting",
          retryLimit: 0,
          async run() {
            if (flaky.fails) throw new Error("the converter is down");
          },
        },
      ],
    });
    await server.uploads.start();
  });

  afterEach(async () => {
    await Promise.all(pages.splice(0).map((page) => page.context().close()));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.uploads.close();
    if (process.env.DATABASE_URL) await server?.uploads.db.execute(sql.raw(`drop schema if exists "${bossSchema}" cascade`));
    await server?.close();
  });

  async function open(body: string): Promise<{ page: Page; errors: string[] }> {
    const opened = await openPage(browser, server.page(body));
    pages.push(opened.page);
    await opened.page.evaluate(() => {
      const w = window as unknown as { checks: unknown[]; eventSources: string[] };
      w.checks = [];
      document.addEventListener("async-upload-processing", (event) => {
        const { state, label, reason } = (event as CustomEvent).detail;
        w.checks.push({ state, label, reason });
      });
    });
    return opened;
  }

  const checks = (page: Page) => page.evaluate(() => (window as unknown as { checks: Array<{ state: string; label: string | null; reason: string | null }> }).checks);
  const validationMessage = (page: Page) => page.$eval(INPUT, (element) => (element as HTMLElement & { validationMessage: string }).validationMessage);
  const announcement = (page: Page) => page.$eval(INPUT, (element) => element.shadowRoot!.querySelector("[role=status]")!.textContent ?? "");
  const waitForText = (page: Page, text: string) => waitForShadowText(page, INPUT, text);
  /** Records the page's EventSources; the returned function lists the open ones by their number of topics. */
  async function watchEventSources(page: Page): Promise<() => Promise<number[]>> {
    await page.evaluate(() => {
      const w = window as unknown as { streams: Array<{ url: string; source: EventSource }> };
      w.streams = [];
      const Original = window.EventSource;
      window.EventSource = class extends Original {
        constructor(url: string | URL, init?: EventSourceInit) {
          super(url, init);
          w.streams.push({ url: String(url), source: this });
        }
      };
    });
    return () =>
      page.evaluate(() =>
        (window as unknown as { streams: Array<{ url: string; source: EventSource }> }).streams
          .filter((stream) => stream.source.readyState !== EventSource.CLOSED)
          .map((stream) => new URL(stream.url).searchParams.getAll("topic").length),
      );
  }
  const waitForRowsIn = (page: Page, selector: string, state: string) => waitForRows(page, selector, 1, [state]);
  /** The state `POST /process` answers for `key` (it only answers while the checks run or after they passed). */
  async function processState(key: string): Promise<string> {
    const response = await fetch(`${server.url}/async-uploads/process`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Origin: server.url },
      body: JSON.stringify({ key }),
    });
    return ((await response.json()) as { state: string }).state;
  }
  /** Clicks Save and tells whether the form was sent (a submission reached the server). */
  async function trySave(page: Page): Promise<boolean> {
    const before = server.submissions.length;
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForTimeout(300);
    return server.submissions.length > before;
  }

  return {
    get server(): ComponentServer {
      return server;
    },
    flaky,
    gate,
    open,
    checks,
    validationMessage,
    announcement,
    waitForText,
    watchEventSources,
    waitForRowsIn,
    processState,
    trySave,
  };
}
