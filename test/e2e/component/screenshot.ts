/**
 * Takes docs/screenshots/async-file-input.png (and -dark.png): the component mid-upload against the
 * real server (filesystem backend), with a stored file, a finished image, an upload in progress and a
 * failed one. Run with `npx tsx test/e2e/component/screenshot.ts`.
 */
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { launchBrowser } from "../../helpers/browser";
import { FIELDS, startComponentServer } from "./harness";
import { storageRequests, textFile } from "./page-helpers";

const OUT = fileURLToPath(new URL("../../../docs/screenshots/", import.meta.url));

const server = await startComponentServer("filesystem");
const browser = await launchBrowser();
try {
  await mkdir(OUT, { recursive: true });
  for (const scheme of ["light", "dark"] as const) {
    const context = await browser.newContext({ viewport: { width: 620, height: 560 }, deviceScaleFactor: 2, colorScheme: scheme });
    const page = await context.newPage();
    await page.goto(
      server.page(`<form>
  <label for="invoice">Invoice</label>
  <async-file-input id="invoice" name="file" field-id="${FIELDS.single}" accept="application/pdf, image/*" max-size="10485760"
    value="e2e.file/record-1/7f3a/invoice-2024-03.pdf" filename="invoice-2024-03.pdf" size="182044" download-url="#"></async-file-input>
  <label for="photos" style="margin-top:1.25rem">Site photos</label>
  <async-file-input id="photos" name="files" field-id="${FIELDS.multiple}" accept="image/*, text/plain" max-size="262144" multiple max-files="4"></async-file-input>
</form>`),
    );
    await page.waitForFunction(() => customElements.get("async-file-input"));
    const photos = page.locator("#photos input[type=file]");
    // A small painted "photo", dropped like a person would, so the thumbnail shows something.
    await page.$eval("#photos", async (element) => {
      const canvas = Object.assign(document.createElement("canvas"), { width: 96, height: 96 });
      const context = canvas.getContext("2d")!;
      const sky = context.createLinearGradient(0, 0, 0, 96);
      sky.addColorStop(0, "#7fb3e6");
      sky.addColorStop(1, "#dcebf7");
      context.fillStyle = sky;
      context.fillRect(0, 0, 96, 96);
      context.fillStyle = "#b5835a";
      context.fillRect(18, 34, 60, 62);
      context.fillStyle = "#f3efe6";
      for (const [x, y] of [[26, 44], [52, 44], [26, 68], [52, 68]] as const) context.fillRect(x, y, 16, 14);
      const blob = await new Promise<Blob>((resolve) => canvas.toBlob((result) => resolve(result!), "image/png"));
      const dataTransfer = new DataTransfer();
      dataTransfer.items.add(new File([blob], "facade-north.png", { type: "image/png" }));
      element.dispatchEvent(new DragEvent("drop", { bubbles: true, cancelable: true, composed: true, dataTransfer }));
    });
    await page.waitForFunction(() => document.querySelector("#photos")!.shadowRoot!.querySelector("li.done"));

    // A failed upload: the storage is unreachable for this one.
    const storage = storageRequests(server.url);
    await page.route(storage, (route) => route.abort("internetdisconnected"));
    await photos.setInputFiles([textFile("site-notes.txt", 4000)]);
    await page.waitForFunction(() => document.querySelector("#photos")!.shadowRoot!.querySelector("li.failed"), null, { timeout: 20_000 });
    await page.unroute(storage);

    // An upload in progress: the connection is throttled and the picture taken half-way.
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 40 * 1024 });
    await photos.setInputFiles([textFile("survey-east-wing.txt", 200 * 1024)]);
    await page.waitForFunction(
      () => {
        const bar = document.querySelector("#photos")!.shadowRoot!.querySelector("[role=progressbar]");
        const now = Number(bar?.getAttribute("aria-valuenow") ?? 0);
        return now >= 45 && now <= 75;
      },
      null,
      { timeout: 20_000, polling: 50 },
    );
    await page.locator("form").screenshot({ path: `${OUT}async-file-input${scheme === "dark" ? "-dark" : ""}.png`, animations: "disabled" });
    await context.close();
  }
} finally {
  await browser.close();
  await server.close();
}
