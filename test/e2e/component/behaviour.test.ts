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
} from "./page-helpers";
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
    expect(await rowStates(page, INPUT)).toEqual(["done"]);
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
    await waitForRows(page, INPUT, 1, ["retrying"]);
    expect(await shadowText(page, INPUT)).toContain("Connection lost, retrying…");
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
    expect(await rowStates(page, INPUT)).toEqual(["uploading"]);
    await page.getByRole("button", { name: "Cancel upload of draft.txt" }).click();
    await hold.release();
    expect(await rowStates(page, INPUT)).toEqual(["stored"]);
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
