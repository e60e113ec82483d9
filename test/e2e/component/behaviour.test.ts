import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  chooseFiles,
  countUploadUrlRequests,
  formValues,
  holdStorageUploads,
  pngFile,
  rowStates,
  shadowText,
  storageRequests,
  textFile,
  waitForRows,
  waitForShadowText,
} from "./page-helpers";
import { FIELDS } from "./harness";
import { formWith, useComponentSession } from "./suite";

const INPUT = "async-file-input";

/** The rest of the flow and of the native-input behaviour, on the filesystem backend. */
describe("<async-file-input> behaviour", () => {
  const session = useComponentSession("filesystem");
  const { open } = session;
  afterEach(() => {
    session.server.clock.offsetMs = 0;
  });

  it("takes a drop (with a drag-over state) and a paste", async () => {
    const { page, errors } = await open();
    await page.$eval(INPUT, (element) => {
      const dataTransfer = new DataTransfer();
      dataTransfer.items.add(new File(["dropped"], "dropped.txt", { type: "text/plain" }));
      element.dispatchEvent(new DragEvent("dragover", { bubbles: true, cancelable: true, composed: true, dataTransfer }));
    });
    expect(await shadowText(page, INPUT)).toContain("Drop to upload");
    await page.$eval(INPUT, (element) => {
      const dataTransfer = new DataTransfer();
      dataTransfer.items.add(new File(["dropped"], "dropped.txt", { type: "text/plain" }));
      element.dispatchEvent(new DragEvent("drop", { bubbles: true, cancelable: true, composed: true, dataTransfer }));
    });
    await waitForRows(page, INPUT, 1);
    expect((await formValues(page, "file"))[0]).toMatch(/\/dropped\.txt$/);

    await page.getByRole("button", { name: "Replace dropped.txt" }).focus();
    await page.$eval(INPUT, (element) => {
      const clipboardData = new DataTransfer();
      clipboardData.items.add(new File(["pasted"], "pasted.txt", { type: "text/plain" }));
      element.shadowRoot!.activeElement!.dispatchEvent(new ClipboardEvent("paste", { bubbles: true, cancelable: true, composed: true, clipboardData }));
    });
    await page.waitForFunction(() => new FormData(document.querySelector("form")!).get("file")?.toString().endsWith("/pasted.txt"));
    await expect.poll(() => rowStates(page, INPUT)).toEqual(["done"]);
    expect(errors).toEqual([]);
  });

  it("shows an image thumbnail from an object URL that is revoked once drawn", async () => {
    const { page, errors } = await open();
    await chooseFiles(page, INPUT, [pngFile("pixel.png")]);
    await waitForRows(page, INPUT, 1);
    await page.waitForFunction(() => document.querySelector("async-file-input")!.shadowRoot!.querySelector("img")?.complete);
    const thumbnail = await page.$eval(INPUT, async (element) => {
      const image = element.shadowRoot!.querySelector("img")!;
      const stillLoads = await fetch(image.src).then(() => true, () => false);
      return { src: image.src.slice(0, 5), width: image.naturalWidth, alt: image.alt, stillLoads };
    });
    expect(thumbnail).toEqual({ src: "blob:", width: 1, alt: "", stillLoads: false });
    expect(errors).toEqual([]);
  });

  it("shows a stored image's thumbnail from its download URL, and the icon for other files or a broken image", async () => {
    // Answers as the download route and a storage do: a redirect to a signed URL on another origin, whose
    // bytes come as an unsniffed attachment of type application/octet-stream.
    const requested: string[] = [];
    const storage = createServer((request, response) => {
      requested.push(request.url!);
      if (request.url === "/download/pixel") return response.writeHead(302, { location: "/signed/pixel.png?sig=1" }).end();
      if (request.url !== "/signed/pixel.png?sig=1") return response.writeHead(404).end("gone");
      response.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-disposition": 'attachment; filename="pixel.png"',
        "x-content-type-options": "nosniff",
      });
      response.end(pngFile().buffer);
    });
    await new Promise<void>((resolve) => storage.listen(0, "127.0.0.1", resolve));
    const origin = `http://127.0.0.1:${(storage.address() as AddressInfo).port}`;
    try {
      const { page, errors } = await open(`<form>
        <async-file-input id="image" name="a" value="e2e.file/r/1/pixel.png" download-url="${origin}/download/pixel"></async-file-input>
        <async-file-input id="pdf" name="b" value="e2e.file/r/2/contract.pdf" download-url="${origin}/download/contract"></async-file-input>
        <async-file-input id="broken" name="c" value="e2e.file/r/3/gone.png" download-url="${origin}/download/gone"></async-file-input>
      </form>`);
      await page.waitForFunction(() => (document.querySelector("#image")!.shadowRoot!.querySelector("img") as HTMLImageElement | null)?.naturalWidth === 1);
      await page.waitForFunction(() => document.querySelector("#broken")!.shadowRoot!.querySelector("[part=thumbnail] svg") !== null);
      expect(await page.$eval("#pdf", (element) => element.shadowRoot!.querySelector("img"))).toBeNull();
      expect(requested).not.toContain("/download/contract");
      expect(errors).toEqual([]);
    } finally {
      storage.closeAllConnections();
      await new Promise((resolve) => storage.close(resolve));
    }
  });

  it("follows the page's color-scheme rather than the OS alone", async () => {
    const { page, errors } = await open();
    await page.emulateMedia({ colorScheme: "dark" });
    const background = () => page.$eval(INPUT, (element) => getComputedStyle(element.shadowRoot!.querySelector(".drop-zone")!).backgroundColor);
    // The test page declares `color-scheme: light dark`, so it is dark here, and so is the element.
    expect(await background()).toBe("rgb(22, 27, 36)");
    // A page that declares nothing stays white in dark mode; the element with it.
    await page.evaluate(() => (document.documentElement.style.colorScheme = "normal"));
    expect(await background()).toBe("rgb(255, 255, 255)");
    // A page (or the element's own style) that asks for dark gets dark.
    await page.$eval(INPUT, (element) => ((element as HTMLElement).style.colorScheme = "dark"));
    expect(await background()).toBe("rgb(22, 27, 36)");
    expect(errors).toEqual([]);
  });

  it("shows the server's error until the person changes the file; reset shows it again", async () => {
    const message = "The cover (application/pdf) is not accepted.";
    const { page, errors } = await open(formWith(`error="${message}"`));
    expect(await page.$eval(INPUT, (element) => element.shadowRoot!.querySelector("[part=message]")?.textContent)).toBe(message);
    // It describes what the page was sent with; it does not stop the form.
    expect(await page.$eval("form", (form) => form.checkValidity())).toBe(true);
    await chooseFiles(page, INPUT, [textFile("better.txt")]);
    await waitForRows(page, INPUT, 1);
    expect(await shadowText(page, INPUT)).not.toContain(message);
    await page.getByRole("button", { name: "Reset" }).click();
    expect(await shadowText(page, INPUT)).toContain(message);
    // Removing the file is a change too.
    await page.$eval(INPUT, (element) => element.setAttribute("value", "e2e.file/r/1/old.txt"));
    await page.getByRole("button", { name: "Remove old.txt" }).click();
    expect(await shadowText(page, INPUT)).not.toContain(message);
    expect(errors).toEqual([]);
  });

  it("announces every upload's start and end when several run at once (said together at a render)", async () => {
    const { page, errors } = await open(formWith(`multiple max-files="7"`, FIELDS.multiple, "files"));
    // Everything the live region ever said, not only what it says at the end.
    await page.$eval(INPUT, (element) => {
      const region = element.shadowRoot!.querySelector("[role=status]")!;
      const said: string[] = ((window as unknown as { said: string[] }).said = []);
      new MutationObserver(() => said.push(region.textContent ?? "")).observe(region, { subtree: true, childList: true, characterData: true });
    });
    const names = ["one.txt", "two.txt", "three.txt", "four.txt", "five.txt"];
    await chooseFiles(page, INPUT, names.map((name) => textFile(name)));
    await waitForRows(page, INPUT, names.length);
    const said = () => page.evaluate(() => (window as unknown as { said: string[] }).said.join("\n"));
    for (const name of names) {
      await expect.poll(said).toContain(`Uploading ${name}.`);
      await expect.poll(said).toContain(`${name} uploaded.`);
    }
    expect(errors).toEqual([]);
  });

  it("shows several stored files of a `multiple` field from `stored-files`, and returns to them on reset", async () => {
    const stored = [
      { key: "e2e.files/r/1/a.txt", filename: "a.txt", size: 2048, downloadUrl: "/download/a" },
      { key: "e2e.files/r/2/b.txt" },
    ];
    const attribute = JSON.stringify(stored).replace(/"/g, "&quot;");
    const { page, errors } = await open(formWith(`multiple max-files="4" stored-files="${attribute}"`, FIELDS.multiple, "files"));
    await waitForRows(page, INPUT, 2, ["stored"]);
    expect(await formValues(page, "files")).toEqual(["e2e.files/r/1/a.txt", "e2e.files/r/2/b.txt"]);
    expect(await shadowText(page, INPUT)).toMatch(/a\.txt ?2 KiB/);
    expect(await page.$eval(INPUT, (element) => element.shadowRoot!.querySelector("a")?.getAttribute("href"))).toBe("/download/a");
    await page.getByRole("button", { name: "Remove b.txt" }).click();
    expect(await formValues(page, "files")).toEqual(["e2e.files/r/1/a.txt"]);
    await page.getByRole("button", { name: "Reset" }).click();
    await waitForRows(page, INPUT, 2, ["stored"]);
    expect(await formValues(page, "files")).toEqual(["e2e.files/r/1/a.txt", "e2e.files/r/2/b.txt"]);
    // JSON that does not parse, or items without a key, give no file rather than a broken element.
    await page.$eval(INPUT, (element) => element.setAttribute("stored-files", '[{"filename":"x"}, "y", null'));
    await waitForRows(page, INPUT, 0);
    await page.$eval(INPUT, (element) => element.setAttribute("stored-files", '[{"filename":"x"}, {"key":"e2e.files/r/3/c.txt"}]'));
    await waitForRows(page, INPUT, 1, ["stored"]);
    expect(await formValues(page, "files")).toEqual(["e2e.files/r/3/c.txt"]);
    expect(errors).toEqual([]);
  });

  it("is disabled by a disabled fieldset: no choosing, no drop, not submitted", async () => {
    const { page, errors } = await open(`<form><fieldset disabled><legend>Files</legend>${formWith("required").replace(/<\/?form[^>]*>/g, "")}</fieldset></form>`);
    const requests = countUploadUrlRequests(page);
    expect(await page.getByRole("button", { name: "Attachment: Choose a file or drop it here" }).isDisabled()).toBe(true);
    await page.$eval(INPUT, (element) => {
      const dataTransfer = new DataTransfer();
      dataTransfer.items.add(new File(["x"], "x.txt", { type: "text/plain" }));
      element.dispatchEvent(new DragEvent("drop", { bubbles: true, cancelable: true, composed: true, dataTransfer }));
    });
    expect(await rowStates(page, INPUT)).toEqual([]);
    expect(requests.count).toBe(0);
    // A disabled control is not submitted and not validated, even when required.
    expect(await page.evaluate(() => [...new FormData(document.querySelector("form")!).keys()])).not.toContain("file");
    expect(await page.$eval("form", (form) => form.checkValidity())).toBe(true);
    await page.$eval("fieldset", (fieldset) => (fieldset.disabled = false));
    expect(await page.getByRole("button", { name: "Attachment: Choose a file or drop it here" }).isDisabled()).toBe(false);
    expect(await page.$eval("form", (form) => form.checkValidity())).toBe(false);
    expect(errors).toEqual([]);
  });

  it("renews an upload URL that really expired", async () => {
    const { page, errors } = await open();
    const requests = countUploadUrlRequests(page);
    // The first URL is issued by a clock 20 minutes slow, so the server finds it expired on upload.
    session.server.clock.offsetMs = -20 * 60_000;
    await page.route("**/async-uploads/upload-url", async (route) => {
      const response = await route.fetch();
      session.server.clock.offsetMs = 0;
      await route.fulfill({ response });
    });
    const refusals: number[] = [];
    page.on("response", (response) => {
      if (storageRequests(session.server.url)(new URL(response.url())) && response.status() === 403) refusals.push(403);
    });
    await chooseFiles(page, INPUT, [textFile("late.txt")]);
    await waitForRows(page, INPUT, 1);
    expect(refusals).toEqual([403]);
    expect(requests.count).toBe(2);
    expect(errors).toEqual([]);
  });

  it("gives up after 3 network retries with a message, and Retry starts again", async () => {
    const { page, errors } = await open();
    const requests = countUploadUrlRequests(page);
    const storage = storageRequests(session.server.url);
    await page.route(storage, (route) => route.abort("internetdisconnected"));
    await chooseFiles(page, INPUT, [textFile("offline.txt")]);
    await waitForShadowText(page, INPUT, "Connection lost, retrying…");
    await waitForRows(page, INPUT, 1, ["failed"]);
    expect(requests.count).toBe(4);
    expect(await shadowText(page, INPUT)).toContain("The connection failed. Check your network, then retry.");
    await page.unroute(storage);
    await page.getByRole("button", { name: "Retry upload of offline.txt" }).click();
    await waitForRows(page, INPUT, 1);
    expect(requests.count).toBe(5);
    expect(errors).toEqual([]);
  });

  it("keeps the existing file while a replacement uploads, and brings it back on cancel", async () => {
    const existing = "e2e.file/record-1/7f3a/contract.pdf";
    const { page, errors } = await open(formWith(`value="${existing}" filename="contract.pdf"`));
    const hold = await holdStorageUploads(page, session.server.url);
    await page.locator(`${INPUT} input[type=file]`).setInputFiles([textFile("draft.txt")]);
    await hold.held;
    await expect.poll(() => rowStates(page, INPUT)).toEqual(["uploading"]);
    await page.getByRole("button", { name: "Cancel upload of draft.txt" }).click();
    await hold.release();
    await expect.poll(() => rowStates(page, INPUT)).toEqual(["stored"]);
    expect(await formValues(page, "file")).toEqual([existing]);
    expect(errors).toEqual([]);
  });

  it("blocks a `novalidate` form while uploading", async () => {
    const { page, errors } = await open(formWith().replace("<form ", "<form novalidate "));
    const hold = await holdStorageUploads(page, session.server.url);
    await chooseFiles(page, INPUT, [textFile("slow.txt")]);
    await hold.held;
    const submitted = session.server.submissions.length;
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForTimeout(300);
    expect(session.server.submissions.length).toBe(submitted);
    await hold.release();
    await waitForRows(page, INPUT, 1);
    await Promise.all([page.waitForURL(/\/submit$/), page.getByRole("button", { name: "Save" }).click()]);
    expect(session.server.submissions.length).toBe(submitted + 1);
    expect(errors).toEqual([]);
  });

  it("takes translated strings in one place", async () => {
    const { page, errors } = await open();
    // A string, so that vitest does not rewrite the page's dynamic import into its own.
    await page.evaluate(`import("/client/async-file-input.js").then((module) =>
      module.setStrings({ chooseOrDrop: () => "Datei auswählen oder hierher ziehen", remove: "Entfernen" }))`);
    expect(await shadowText(page, INPUT)).toContain("Datei auswählen oder hierher ziehen");
    expect(errors).toEqual([]);
  });

  it("fits a 320 px wide viewport (200 % zoom) and keeps the progress bar in forced colours", async () => {
    const { page, errors } = await open();
    await page.setViewportSize({ width: 320, height: 640 });
    await page.emulateMedia({ forcedColors: "active" });
    const hold = await holdStorageUploads(page, session.server.url);
    await chooseFiles(page, INPUT, [textFile(`a-rather-long-file-name-that-must-wrap-somewhere-${"x".repeat(40)}.txt`)]);
    await hold.held;
    const layout = await page.$eval(INPUT, (element) => {
      const bar = element.shadowRoot!.querySelector<HTMLElement>(".bar")!;
      return {
        overflow: document.documentElement.scrollWidth > document.documentElement.clientWidth,
        barColor: getComputedStyle(bar).backgroundColor,
        trackColor: getComputedStyle(bar.parentElement!).backgroundColor,
        progressbar: bar.parentElement!.getAttribute("role"),
      };
    });
    expect(layout.overflow).toBe(false);
    expect(layout.progressbar).toBe("progressbar");
    expect(layout.barColor).not.toBe(layout.trackColor);
    await hold.release();
    await waitForRows(page, INPUT, 1);
    expect(errors).toEqual([]);
  });
});
