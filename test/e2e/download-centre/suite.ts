import { readFile } from "node:fs/promises";
import type { Browser, Download, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXPORT_FAILED_MESSAGE, type ExportSummary } from "../../../shared/exports";
import type { BackendName } from "../../helpers/backends";
import { axeViolations, launchBrowser, watchPageErrors } from "../../helpers/browser";
import { centrePage, expectedCsv, openCentre, PRINCIPAL, startCentreServer, type CentreServer } from "./harness";

/** The centre's row of `filename`. */
/** How long a wait on an export job may take: two test files share 2 cores in CI, and a job waits for a free worker. */
const JOB_WAIT = 60_000;
const row = (page: Page, filename: string) => page.locator("async-download-centre li", { hasText: filename });
const statusOf = (page: Page, filename: string) => row(page, filename).locator("[part~=status]");

async function openList(page: Page): Promise<void> {
  const toggle = page.locator("async-download-centre [part~=toggle]");
  if ((await toggle.getAttribute("aria-expanded")) !== "true") await toggle.click();
}

async function bytesOf(download: Download): Promise<string> {
  return readFile(await download.path(), "utf8");
}

/** The deepest focused element's accessible name (aria-label, else its text). */
function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    let element: Element | null = document.activeElement;
    while (element?.shadowRoot?.activeElement) element = element.shadowRoot.activeElement;
    if (!element) return "";
    const slot = element.querySelector("slot");
    const text = slot ? slot.assignedNodes({ flatten: true }).map((node) => node.textContent).join("") : element.textContent;
    return (element.getAttribute("aria-label") ?? text ?? "").trim();
  });
}

/** `promise`, or a failure with `explain()`'s words once `ms` have passed (the test's own timeout would say nothing of why). */
async function withinOrExplain<T>(promise: Promise<T>, ms: number, explain: () => Promise<string>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), ms)));
  try {
    const first = await Promise.race([promise, late]);
    if (first === "late") throw new Error(await explain());
    return first;
  } finally {
    clearTimeout(timer);
  }
}

/** Counts the page's `GET …/exports` list requests (the initial load and any polling). */
function countListRequests(page: Page): { count: number } {
  const counter = { count: 0 };
  page.on("request", (request) => {
    if (request.method() === "GET" && /\/exports$/.test(new URL(request.url()).pathname)) counter.count++;
  });
  return counter;
}

/**
 * `<async-download-centre>` and `<async-export-button>` in Chromium against the real server, pg-boss
 * worker and `backend`'s storage. `full`: every case; otherwise the flow that touches storage (start,
 * live progress, download, cancel, retry, clear).
 */
export function describeDownloadCentre(backend: BackendName, options: { full: boolean }): void {
  describe(`download centre on ${backend}`, () => {
    let server: CentreServer;
    let browser: Browser;

    beforeAll(async () => {
      [server, browser] = await Promise.all([startCentreServer(backend), launchBrowser()]);
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await server?.close();
    });

    const serverList = async (): Promise<ExportSummary[]> => server.uploads.exports.list(PRINCIPAL);

    it("starts an export from the form, follows its progress live to Ready and downloads the file (attachment, right bytes)", async () => {
      const { page, errors } = await openCentre(browser, centrePage(server, { rows: 40, tag: "live" }));
      const lists = countListRequests(page);
      await page.getByRole("button", { name: "Export rows as CSV" }).click();
      await expect.poll(() => page.locator("async-export-button [part~=message]").textContent()).toBe("Preparing rows-live.csv… it will appear in your downloads.");
      await openList(page);
      // The percentages the page showed while running, read on every animation frame.
      const seen = page.evaluate(
        () =>
          new Promise<number[]>((resolve) => {
            const values: number[] = [];
            const read = () => {
              const root = document.querySelector("async-download-centre")!.shadowRoot!;
              const bar = root.querySelector("[role=progressbar]");
              const now = bar?.getAttribute("aria-valuenow");
              if (now !== null && now !== undefined && values.at(-1) !== Number(now)) values.push(Number(now));
              if (root.querySelector("[part~=download-link]")) return resolve(values);
              requestAnimationFrame(read);
            };
            read();
          }),
      );
      // A hang here (an export stuck in `running`) fails with what the page and the server say, not at the test's timeout.
      const percentages = await withinOrExplain(seen, 20_000, async () => {
        const item = (await serverList()).find((entry) => entry.filename === "rows-live.csv");
        const shown = await statusOf(page, "rows-live.csv").textContent({ timeout: 1_000 }).catch(() => "(no row)");
        const truth = item ? `${item.status}, ${item.percentage ?? "no"} %, version ${item.version}` : "no such export";
        return `no download link within 20 s: the centre shows "${shown}", the server's row says ${truth}`;
      });
      expect(percentages.filter((value) => value > 0 && value < 100).length).toBeGreaterThanOrEqual(2);
      expect([...percentages].sort((a, b) => a - b)).toEqual(percentages);
      await expect.poll(() => statusOf(page, "rows-live.csv").textContent()).toMatch(/^Ready · \d/);
      // Followed on the events stream: no polling of the list besides the first load.
      expect(lists.count).toBeLessThanOrEqual(1);

      const [download] = await Promise.all([page.waitForEvent("download"), row(page, "rows-live.csv").getByRole("link", { name: "Download rows-live.csv" }).click()]);
      expect(download.suggestedFilename()).toBe("rows-live.csv");
      expect(await bytesOf(download)).toBe(expectedCsv(40));

      const [item] = (await serverList()).filter((entry) => entry.filename === "rows-live.csv");
      const redirect = await fetch(`${server.url}/async-uploads/exports/${item!.id}/file`, { redirect: "manual" });
      expect(redirect.status).toBe(302);
      const file = await fetch(new URL(redirect.headers.get("location")!, server.url));
      expect(file.headers.get("content-disposition")).toMatch(/^attachment;.*rows-live\.csv/);
      expect(await file.text()).toBe(expectedCsv(40));
      expect(errors).toEqual([]);
      await page.context().close();
    });

    it("cancels a running export (the writer sees its signal), retries it, and clears it", async () => {
      const { page, errors } = await openCentre(browser, centrePage(server, { rows: 50, mode: "wait", tag: "cancel" }));
      await page.getByRole("button", { name: "Export rows as CSV" }).click();
      await openList(page);
      await expect.poll(() => statusOf(page, "rows-cancel.csv").textContent()).toMatch(/^(Waiting to start…|Preparing…)/);
      await expect.poll(async () => (await serverList()).find((entry) => entry.filename === "rows-cancel.csv")?.status).toBe("running");
      await row(page, "rows-cancel.csv").getByRole("button", { name: "Cancel rows-cancel.csv" }).click();
      await expect.poll(() => statusOf(page, "rows-cancel.csv").textContent()).toBe("Cancelled");
      await expect.poll(() => server.aborted.has("cancel"), { timeout: 15_000 }).toBe(true);
      await expect.poll(() => page.locator("async-download-centre [role=status]").textContent()).toContain("rows-cancel.csv was cancelled.");

      await row(page, "rows-cancel.csv").getByRole("button", { name: "Retry rows-cancel.csv" }).click();
      await expect.poll(() => statusOf(page, "rows-cancel.csv").textContent()).toMatch(/^(Waiting to start…|Preparing…)/);
      await expect.poll(async () => (await serverList()).find((entry) => entry.filename === "rows-cancel.csv")?.status).toMatch(/queued|running/);

      await row(page, "rows-cancel.csv").getByRole("button", { name: "Clear rows-cancel.csv" }).click();
      await expect.poll(() => row(page, "rows-cancel.csv").count()).toBe(0);
      expect((await serverList()).some((entry) => entry.filename === "rows-cancel.csv")).toBe(false);
      expect(errors).toEqual([]);
      await page.context().close();
    });

    it("shows a failed export's safe message, and a retry builds it", async () => {
      server.switches.failing = true;
      const { page, errors } = await openCentre(browser, centrePage(server, { rows: 12, mode: "fail", tag: "failing" }));
      await page.getByRole("button", { name: "Export rows as CSV" }).click();
      await openList(page);
      await expect.poll(() => statusOf(page, "rows-failing.csv").textContent(), { timeout: JOB_WAIT }).toBe(`Failed: ${EXPORT_FAILED_MESSAGE}`);
      expect(await page.locator("async-download-centre").evaluate((element) => element.shadowRoot!.textContent)).not.toContain("secret detail");
      server.switches.failing = false;
      await row(page, "rows-failing.csv").getByRole("button", { name: "Retry rows-failing.csv" }).click();
      await expect.poll(() => statusOf(page, "rows-failing.csv").textContent(), { timeout: JOB_WAIT }).toMatch(/^Ready/);
      const [download] = await Promise.all([page.waitForEvent("download"), row(page, "rows-failing.csv").getByRole("link").click()]);
      expect(await bytesOf(download)).toBe(expectedCsv(12));
      expect(errors).toEqual([]);
      await page.context().close();
    }, 3 * JOB_WAIT);

    if (!options.full) return;

    it("downloads at once what the server serves now (200), with nothing in the centre", async () => {
      const { page, errors } = await openCentre(browser, centrePage(server, { rows: 3, tag: "now" }));
      const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export rows as CSV" }).click()]);
      expect(download.suggestedFilename()).toBe("rows-now.csv");
      expect(await bytesOf(download)).toBe(expectedCsv(3));
      await expect.poll(() => page.locator("async-export-button [part~=message]").textContent()).toBe("rows-now.csv downloaded.");
      expect((await serverList()).some((entry) => entry.filename === "rows-now.csv")).toBe(false);
      expect(errors).toEqual([]);
      await page.context().close();
    });

    it("says in words why an export could not be started (the app's 400), and starts nothing", async () => {
      const before = (await serverList()).length;
      const { page, errors } = await openCentre(browser, centrePage(server, { rows: -1 as number, tag: "bad" }));
      await page.getByRole("button", { name: "Export rows as CSV" }).click();
      const message = page.locator("async-export-button [part~=message]");
      await expect.poll(() => message.textContent()).toBe("Rows must be a whole number from 0 to 10000.");
      expect(await message.getAttribute("class")).toContain("error");
      expect(await message.getAttribute("role")).toBe("status");
      expect((await serverList()).length).toBe(before);
      expect(errors).toEqual([]);
      await page.context().close();
    });

    it("follows by polling where the events route is not mounted", async () => {
      const { page } = await openCentre(browser, centrePage(server, { endpoint: "/no-live", rows: 20, tag: "polled" }));
      const lists = countListRequests(page);
      await page.getByRole("button", { name: "Export rows as CSV" }).click();
      await openList(page);
      await expect.poll(() => statusOf(page, "rows-polled.csv").textContent(), { timeout: JOB_WAIT }).toMatch(/^Ready/);
      // Ready came from a list (the 202 said queued, and there are no events here): on a slow machine
      // the export may already be done at the first one, so one list is enough to show the polling.
      expect(lists.count).toBeGreaterThanOrEqual(1);
      await page.context().close();
    }, 3 * JOB_WAIT);

    it("lists exports started elsewhere when the page loads, and is usable by keyboard alone; axe finds nothing", async () => {
      const { page, errors } = await openCentre(browser, centrePage(server, { rows: 50, mode: "wait", tag: "keys" }));
      // Keyboard only: the toggle, the rows field, the export button.
      await page.keyboard.press("Tab");
      expect(await focused(page)).toMatch(/^Downloads/);
      await page.keyboard.press("Tab");
      await page.keyboard.press("Tab");
      expect(await focused(page)).toBe("Export rows as CSV");
      await page.keyboard.press("Enter");
      await expect.poll(() => page.locator("async-export-button [part~=message]").textContent()).toContain("it will appear in your downloads");
      await page.keyboard.press("Shift+Tab");
      await page.keyboard.press("Shift+Tab");
      expect(await focused(page)).toMatch(/^Downloads/);
      await page.keyboard.press("Enter");
      expect(await page.locator("async-download-centre [part~=toggle]").getAttribute("aria-expanded")).toBe("true");
      await expect.poll(() => row(page, "rows-keys.csv").count()).toBe(1);
      // Newest first: this row's first action is its Cancel.
      await page.keyboard.press("Tab");
      expect(await focused(page)).toBe("Cancel rows-keys.csv");
      await page.keyboard.press("Enter");
      await expect.poll(() => statusOf(page, "rows-keys.csv").textContent()).toBe("Cancelled");
      // The Cancel button became Retry: the focus stayed in the row.
      await expect.poll(() => focused(page)).toBe("Retry rows-keys.csv");
      expect(await row(page, "rows-keys.csv").locator("[role=progressbar]").count()).toBe(0);

      // A reload lists what the server has (states from the earlier tests too), without any event.
      await page.reload();
      await page.waitForFunction(() => customElements.get("async-download-centre") !== undefined);
      await openList(page);
      await expect.poll(() => row(page, "rows-keys.csv").count()).toBe(1);
      expect(await statusOf(page, "rows-keys.csv").textContent()).toBe("Cancelled");
      expect(await axeViolations(page)).toEqual([]);
      await row(page, "rows-keys.csv").getByRole("button", { name: "Retry rows-keys.csv" }).focus();
      await page.keyboard.press("Escape");
      expect(await page.locator("async-download-centre [part~=toggle]").getAttribute("aria-expanded")).toBe("false");
      expect(await focused(page)).toMatch(/^Downloads/);
      expect(errors).toEqual([]);
      await page.context().close();
    });

    it("hears exports started in another tab on the person's own topic (user:<principal>), live, without polling", async () => {
      const first = await openCentre(browser, server.page(`<header><async-download-centre poll-seconds="0.5" open></async-download-centre></header>`));
      const lists = countListRequests(first.page);
      await expect.poll(() => first.page.locator("async-download-centre [part~=empty], async-download-centre [part~=list]").count()).toBeGreaterThan(0);
      const second = await openCentre(browser, centrePage(server, { rows: 40, tag: "other-tab" }));
      await second.page.getByRole("button", { name: "Export rows as CSV" }).click();
      await expect.poll(() => statusOf(first.page, "rows-other-tab.csv").textContent(), { timeout: 15_000 }).toMatch(/^Ready/);
      expect(lists.count).toBe(0);
      // Cleared in the second tab: gone from the first one too.
      await openList(second.page);
      await row(second.page, "rows-other-tab.csv").getByRole("button", { name: "Clear rows-other-tab.csv" }).click();
      await expect.poll(() => row(first.page, "rows-other-tab.csv").count()).toBe(0);
      expect(lists.count).toBe(0);
      expect([...first.errors, ...second.errors]).toEqual([]);
      await first.page.context().close();
      await second.page.context().close();
    });

    it("shares the tab's one event stream with the file input's bundle (each bundle carries the live channel)", async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const errors = watchPageErrors(page);
      await page.addInitScript(() => {
        const Native = window.EventSource;
        const opened: EventSource[] = [];
        (window as unknown as { opened: EventSource[] }).opened = opened;
        window.EventSource = class extends Native {
          constructor(url: string | URL, init?: EventSourceInit) {
            super(url, init);
            opened.push(this);
          }
        };
      });
      const url = server.page(
        `<async-download-centre poll-seconds="60"></async-download-centre>
<async-export-button export-id="rows.csv" criteria='{"rows":50,"mode":"wait","tag":"shared"}'>Export rows as CSV</async-export-button>`,
        { centre: true, fileInput: true },
      );
      await page.goto(url);
      await page.waitForFunction(() => customElements.get("async-download-centre") && customElements.get("async-file-input"));
      // When the export starts, the file input's bundle follows it too, through its own copy of the channel.
      // A string: vitest would rewrite an import() written in a function passed to evaluate.
      await page.evaluate(`document.addEventListener("async-export-start", (event) => {
        const { export: item, topicToken } = event.detail;
        import("/client/async-file-input.js").then((module) => {
          module.subscribeLive("/async-uploads/events", topicToken, (heard) => {
            if (heard.event === "export") window.heard = [...(window.heard ?? []), heard.data.status];
          }, { topic: "export:" + item.id, events: ["export"] });
          window.subscribed = true;
        });
      })`);
      await page.getByRole("button", { name: "Export rows as CSV" }).click();
      await openList(page);
      await page.waitForFunction(() => (window as unknown as { subscribed?: boolean }).subscribed === true);
      await expect.poll(async () => (await serverList()).find((entry) => entry.filename === "rows-shared.csv")?.status).toBe("running");
      await row(page, "rows-shared.csv").getByRole("button", { name: "Cancel rows-shared.csv" }).click();
      await expect.poll(() => page.evaluate(() => (window as unknown as { heard?: string[] }).heard ?? [])).toContain("cancelled");
      await expect.poll(() => statusOf(page, "rows-shared.csv").textContent()).toBe("Cancelled");
      // The centre's stream reopens when its token set changes; what matters is that only one is open.
      const open = await page.evaluate(() => (window as unknown as { opened: EventSource[] }).opened.filter((source) => source.readyState !== EventSource.CLOSED).length);
      expect(open).toBe(1);
      expect(errors).toEqual([]);
      await context.close();
    });

    it("on a signed-out page (401) lists nothing, reports nothing and opens no event stream", async () => {
      const context = await browser.newContext();
      await context.addCookies([{ name: "signed-out", value: "1", url: server.url }]);
      const page = await context.newPage();
      const errors = watchPageErrors(page);
      const requests: string[] = [];
      page.on("request", (request) => requests.push(new URL(request.url()).pathname));
      await page.goto(server.page(`<header><async-download-centre poll-seconds="0.5"></async-download-centre></header>`));
      await page.waitForFunction(() => customElements.get("async-download-centre") !== undefined);
      await expect.poll(() => requests.includes("/async-uploads/exports")).toBe(true);
      await openList(page);
      await expect.poll(() => page.locator("async-download-centre [part~=empty]").textContent()).toBe("No downloads yet. Exports you start appear here.");
      await page.waitForTimeout(1_000); // time for a stream or a poll to be opened, if one were
      expect(requests.filter((path) => path.endsWith("/events"))).toEqual([]);
      expect(requests.filter((path) => path === "/async-uploads/exports")).toHaveLength(1);
      expect(await page.locator("async-download-centre [part~=error]").count()).toBe(0);
      expect(await page.locator("async-download-centre [role=status]").textContent()).toBe("");
      expect(errors).toEqual([]);
      await context.close();
    });

    it("a page with only the file input loads no centre code", async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const scripts: string[] = [];
      page.on("request", (request) => {
        if (request.resourceType() === "script") scripts.push(new URL(request.url()).pathname);
      });
      await page.goto(server.page(`<form><async-file-input name="file" field-id="none"></async-file-input></form>`, { fileInput: true }));
      await page.waitForFunction(() => customElements.get("async-file-input") !== undefined);
      expect(scripts).toEqual(["/client/async-file-input.js"]);
      expect(await page.evaluate(() => customElements.get("async-download-centre") ?? customElements.get("async-export-button") ?? null)).toBeNull();
      const fileInputCode = await (await fetch(`${server.url}/client/async-file-input.js`)).text();
      expect(fileInputCode).not.toContain("async-download-centre");
      expect(fileInputCode).not.toContain("async-export-button");
      await context.close();
    });
  });
}
