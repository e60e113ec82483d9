import { readFile } from "node:fs/promises";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csvField, SERVE_NOW_MAX_ROWS } from "../../../demo/exports";
import { axeViolations, launchBrowser, watchPageErrors } from "../../helpers/browser";
import { startDemo, type DemoServer } from "./harness";

/**
 * Issue 15's demo: "Export all documents as CSV" on the documents page, the download centre in every
 * page's header, and the development form that adds sample documents. Few documents: the CSV downloads
 * at once; more than {@link SERVE_NOW_MAX_ROWS}: it is prepared by the job worker and delivered through the centre.
 */
describe("demo: exporting the documents as CSV in Chromium", () => {
  let server: DemoServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [server, browser] = await Promise.all([startDemo("filesystem", { withComponent: true, jobs: true }), launchBrowser()]);
  });
  afterAll(async () => {
    await Promise.allSettled(contexts.map((context) => context.close()));
    await browser?.close();
    await server?.close();
  });

  async function home(): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext({ acceptDownloads: true });
    contexts.push(context);
    const page = await context.newPage();
    const errors = watchPageErrors(page);
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => customElements.get("async-download-centre") !== undefined && customElements.get("async-export-button") !== undefined);
    return { page, errors };
  }

  const exportButton = (page: Page) => page.getByRole("button", { name: "Export all documents as CSV" });
  const message = (page: Page) => page.locator("async-export-button [part~=message]");

  it("serves the CSV at once for a few documents (a header line only when there are none)", async () => {
    const { page, errors } = await home();
    const [download] = await Promise.all([page.waitForEvent("download"), exportButton(page).click()]);
    expect(download.suggestedFilename()).toMatch(/^documents-\d{4}-\d{2}-\d{2}\.csv$/);
    expect(await readFile(await download.path(), "utf8")).toBe("\uFEFFid,title,attachment,attachment_bytes,cover,created_at\n");
    await expect.poll(() => message(page).textContent()).toMatch(/downloaded\.$/);
    expect(errors).toEqual([]);
  });

  it("prepares a large export in the background and delivers it through the download centre in the header", async () => {
    const { page, errors } = await home();
    const rows = 1_200;
    await page.getByLabel("Sample documents to add").fill(String(rows));
    await Promise.all([page.waitForURL(`${server.url}/`), page.getByRole("button", { name: "Add samples" }).click()]);
    await expect.poll(() => page.locator("main").textContent()).toContain(`Showing the newest 100 of ${rows} documents.`);
    await page.waitForFunction(() => customElements.get("async-export-button") !== undefined);

    await exportButton(page).click();
    await expect.poll(() => message(page).textContent()).toMatch(/^Preparing documents-.*\.csv… it will appear in your downloads\.$/);
    const centre = page.locator("header async-download-centre");
    await centre.getByRole("button", { name: /^Downloads/ }).click();
    const item = centre.locator("li", { hasText: /documents-.*\.csv/ });
    await expect.poll(() => item.locator("[part~=status]").textContent(), { timeout: 30_000 }).toMatch(/^Ready · /);
    expect(await axeViolations(page)).toEqual([]);

    const [download] = await Promise.all([page.waitForEvent("download"), item.getByRole("link", { name: /^Download documents-/ }).click()]);
    const csv = (await readFile(await download.path(), "utf8")).trimEnd().split("\n");
    expect(csv).toHaveLength(rows + 1);
    const titles = new Set(csv.slice(1).map((line) => line.split(",")[1]));
    expect(titles.size).toBe(rows);
    expect(titles.has("Sample document 1")).toBe(true);
    expect(titles.has(`Sample document ${rows}`)).toBe(true);
    expect(errors).toEqual([]);
  });

  it("puts the download centre in every page's header, also on the form pages beside the file input", async () => {
    const { page, errors } = await home();
    await page.goto(`${server.url}/documents/new`);
    await page.waitForFunction(() => customElements.get("async-file-input") !== undefined && customElements.get("async-download-centre") !== undefined);
    expect(await page.locator("header async-download-centre").count()).toBe(1);
    expect(errors).toEqual([]);
  });
});

describe("demo: the CSV's fields", () => {
  it("quotes commas, quotes and line breaks, and defuses what a spreadsheet would run as a formula", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField(42)).toBe("42");
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField("two\nlines")).toBe('"two\nlines"');
    expect(csvField("=HYPERLINK(\"http://x\")")).toBe('"\'=HYPERLINK(""http://x"")"');
    expect(csvField("+1")).toBe("'+1");
    expect(csvField("-1")).toBe("'-1");
    expect(csvField("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvField(-1)).toBe("-1"); // a number column is left as it is
  });
});
