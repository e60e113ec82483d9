import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { EICAR_TEST_STRING } from "../../../demo/scan-step";
import { documents } from "../../../demo/schema";
import { launchBrowser, watchPageErrors } from "../../helpers/browser";
import { chooseFiles, textFile, waitForRows } from "../component/page-helpers";
import { startDemo, type DemoServer } from "./harness";

const ATTACHMENT = "#attachment-input";

/**
 * The demo as `npm start` runs it with its stand-in virus scan (demo/scan-step.ts) on the attachment:
 * the file goes Checking → Scanning for viruses → Ready live in the form, which cannot be saved before;
 * a file named like a virus or carrying the EICAR test string is rejected with the reason.
 */
describe("demo: the attachment's virus scan in Chromium", () => {
  let server: DemoServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [server, browser] = await Promise.all([startDemo("filesystem", { withComponent: true, scanSeconds: 1.5 }), launchBrowser()]);
  });
  afterAll(async () => {
    await Promise.allSettled(contexts.map((context) => context.close()));
    await browser?.close();
    await server?.close();
  });

  async function newDocumentPage(): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const errors = watchPageErrors(page);
    await page.goto(`${server.url}/documents/new`);
    await page.waitForFunction(() => customElements.get("async-file-input") !== undefined);
    return { page, errors };
  }

  const errorText = (page: Page) => page.locator(ATTACHMENT).locator("[part=error]").textContent();

  /** Every state text the attachment row shows, in order, as the person sees them (polled by the page). */
  async function recordStates(page: Page): Promise<() => Promise<string[]>> {
    await page.evaluate((selector) => {
      const w = window as unknown as { states: string[] };
      w.states = [];
      const element = document.querySelector(selector)!;
      const record = () => {
        const text = element.shadowRoot?.querySelector("[part=state]")?.textContent ?? "";
        if (text && w.states.at(-1) !== text) w.states.push(text);
      };
      new MutationObserver(record).observe(element.shadowRoot!, { subtree: true, childList: true, characterData: true });
    }, ATTACHMENT);
    return () => page.evaluate(() => (window as unknown as { states: string[] }).states);
  }

  it("shows checking → scanning → ready live, and saves the document only once the file is ready", async () => {
    const { page, errors } = await newDocumentPage();
    const states = await recordStates(page);
    await page.getByLabel("Title").fill("Scanned");
    await chooseFiles(page, ATTACHMENT, [textFile("minutes.txt")]);
    await page.waitForFunction((selector) => document.querySelector(selector)!.shadowRoot!.textContent!.includes("Scanning for viruses…"), ATTACHMENT);
    // Save while the scan runs: the element keeps the form from being sent.
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForTimeout(300);
    expect(page.url()).toBe(`${server.url}/documents/new`);

    await waitForRows(page, ATTACHMENT, 1, ["ready"]);
    const seen = await states();
    expect(seen.slice(seen.indexOf("Checking…"))).toEqual(["Checking…", "Scanning for viruses…", "Ready"]);
    await Promise.all([page.waitForURL(/\/documents\/[0-9a-f-]{36}$/), page.getByRole("button", { name: "Save" }).click()]);
    const id = page.url().split("/").at(-1)!;
    const [row] = await server.db.select().from(documents).where(eq(documents.id, id));
    expect(row).toMatchObject({ title: "Scanned", attachmentName: "minutes.txt" });
    expect(errors).toEqual([]);
  });

  it("rejects a file named like a virus and one with the EICAR test string, with the reason", async () => {
    const { page, errors } = await newDocumentPage();
    await chooseFiles(page, ATTACHMENT, [textFile("virus-sample.txt")]);
    await waitForRows(page, ATTACHMENT, 1, ["rejected"]);
    expect(await errorText(page)).toBe("The name “virus-sample.txt” looks like a virus to this demo's scanner.");

    await chooseFiles(page, ATTACHMENT, [{ name: "eicar.com.txt", mimeType: "text/plain", buffer: Buffer.from(EICAR_TEST_STRING) }]);
    await page.waitForFunction((selector) => document.querySelector(selector)!.shadowRoot!.textContent!.includes("eicar.com.txt"), ATTACHMENT);
    await waitForRows(page, ATTACHMENT, 1, ["rejected"]);
    expect(await errorText(page)).toBe("The file contains the EICAR anti-virus test signature.");
    const message = await page.$eval(ATTACHMENT, (element) => (element as HTMLElement & { validationMessage: string }).validationMessage);
    expect(message).toBe("eicar.com.txt was rejected: The file contains the EICAR anti-virus test signature. Remove it or choose another file.");
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForTimeout(300);
    expect(page.url()).toBe(`${server.url}/documents/new`);
    expect(errors).toEqual([]);
  });
});
