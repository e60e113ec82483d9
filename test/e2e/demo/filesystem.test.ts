import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { axeViolations } from "../../helpers/browser";
import { chooseFiles, waitForRows } from "../component/page-helpers";
import { gradientPng } from "./harness";
import { describeDemoInBrowser } from "./suite";

const SCREENSHOT = fileURLToPath(new URL("../../../docs/screenshots/demo-form.png", import.meta.url));

describeDemoInBrowser("filesystem", (get) => {
  it("has no accessibility violations on the list, form and document pages", async () => {
    const { server, browser } = get();
    const page = await browser.newPage();
    try {
      await page.goto(`${server.url}/documents/new`);
      await page.waitForFunction(() => customElements.get("async-file-input") !== undefined);
      expect(await axeViolations(page)).toEqual([]);
      await page.getByLabel("Title").fill("Accessible");
      await chooseFiles(page, "#cover-input", [{ name: "c.png", mimeType: "image/png", buffer: gradientPng(8, 8) }]);
      await waitForRows(page, "#cover-input", 1);
      await Promise.all([page.waitForURL(/\/documents\/[0-9a-f-]{36}$/), page.getByRole("button", { name: "Save" }).click()]);
      expect(await axeViolations(page)).toEqual([]);
      await page.goto(`${server.url}/`);
      expect(await axeViolations(page)).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("takes the README screenshot: the form mid-upload", async () => {
    const { server, browser } = get();
    const page = await browser.newPage({ viewport: { width: 800, height: 560 } });
    try {
      await page.goto(`${server.url}/documents/new`);
      await page.waitForFunction(() => customElements.get("async-file-input") !== undefined);
      await page.getByLabel("Title").fill("Annual report 2025");
      await chooseFiles(page, "#cover-input", [{ name: "cover.png", mimeType: "image/png", buffer: gradientPng(64, 64) }]);
      await waitForRows(page, "#cover-input", 1);
      // Throttled upload bandwidth (rather than holding the request with page.route, which makes the
      // bar jump straight to its end) so the attachment's progress bar stops part-way.
      const cdp = await page.context().newCDPSession(page);
      await cdp.send("Network.enable");
      await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 48 * 1024 });
      await chooseFiles(page, "#attachment-input", [
        { name: "annual-report-2025.pdf", mimeType: "application/pdf", buffer: Buffer.alloc(240 * 1024, 0x25) },
      ]);
      await page.waitForFunction(() => {
        const bar = document.querySelector("#attachment-input")?.shadowRoot?.querySelector("[role=progressbar]");
        const percent = Number(bar?.getAttribute("aria-valuenow"));
        return percent >= 30 && percent <= 70;
      });
      const png = await page.screenshot();
      expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
      // Rewritten only on request (or when missing), so a test run does not dirty the committed image.
      if (process.env.UPDATE_SCREENSHOTS === "1" || !existsSync(SCREENSHOT)) {
        await mkdir(dirname(SCREENSHOT), { recursive: true });
        await writeFile(SCREENSHOT, png);
      }
    } finally {
      await page.close();
    }
  });
});
