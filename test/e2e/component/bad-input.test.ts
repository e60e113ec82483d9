import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { FIELDS } from "./harness";
import { chooseFiles, countUploadUrlRequests, formValues, recordedEvents, recordEvents, rowStates, shadowText, textFile, waitForRows } from "./page-helpers";
import { formWith, useComponentSession } from "./suite";

const INPUT = "async-file-input";

/**
 * Bad answers and odd input: each ends in a clear message in the component, never a row stuck in
 * progress, and never an exception or console error. Server answers that our server cannot give
 * (HTML error pages, a 201 without `upload`) are injected with `page.route`; the rest is real.
 */
describe("<async-file-input> with bad input", () => {
  const session = useComponentSession("filesystem");
  const { open } = session;

  /** Answers `upload-url` with `status` and `body`, uploads one file, and returns what the person sees. */
  async function failUploadUrl(status: number, contentType: string, body: string) {
    const { page, errors } = await open();
    await page.route("**/async-uploads/upload-url", (route) => route.fulfill({ status, contentType, body }));
    await recordEvents(page, INPUT);
    await chooseFiles(page, INPUT, [textFile("report.txt")]);
    await waitForRows(page, INPUT, 1, ["failed"]);
    const events = await recordedEvents(page);
    return { page, errors, text: await shadowText(page, INPUT), events };
  }

  it("an error page that is not JSON gives a message and a Retry button", async () => {
    const { page, errors, text, events } = await failUploadUrl(500, "text/html", "<html><body><h1>Internal Server Error</h1></body></html>");
    expect(text).toContain("The server could not prepare the upload (error 500). Please retry.");
    expect(text).not.toContain("<h1>");
    expect(events.at(-1)).toMatchObject({ type: "async-upload-error", detail: { code: "server_error", status: 500 } });
    await expect(page.getByRole("button", { name: "Retry upload of report.txt" }).isVisible()).resolves.toBe(true);
    expect(await page.$eval(INPUT, (element) => element.validationMessage)).toBe("An upload failed. Retry it or remove the file.");
    expect(errors).toEqual([]);
  });

  it("a JSON 500 shows the server's message; Retry then succeeds", async () => {
    const { page, errors, text } = await failUploadUrl(500, "application/json", '{"error":{"code":"internal_error","message":"Something went wrong on our side."}}');
    expect(text).toContain("Something went wrong on our side.");
    await page.unroute("**/async-uploads/upload-url");
    await page.getByRole("button", { name: "Retry upload of report.txt" }).click();
    await waitForRows(page, INPUT, 1);
    expect((await formValues(page, "file"))[0]).toMatch(/\/report\.txt$/);
    expect(errors).toEqual([]);
  });

  it("a 201 without `upload` is reported, not thrown", async () => {
    const { errors, text, events } = await failUploadUrl(201, "application/json", '{"key":"async-temp/x/report.txt"}');
    expect(text).toContain("The server sent an answer this page does not understand.");
    expect(events.at(-1)).toMatchObject({ detail: { code: "bad_response" } });
    expect(errors).toEqual([]);
  });

  it("a server refusal (413 from our server) shows the server's reason", async () => {
    const body = '{"error":{"code":"file_too_large","message":"The file is larger than the 1 KiB allowed here."}}';
    const { errors, text, events } = await failUploadUrl(413, "application/json", body);
    expect(text).toContain("The file is larger than the 1 KiB allowed here.");
    expect(events.at(-1)).toMatchObject({ detail: { code: "file_too_large", status: 413 } });
    expect(errors).toEqual([]);
  });

  it("refuses a file of 0 bytes before any request", async () => {
    const { page, errors } = await open();
    const requests = countUploadUrlRequests(page);
    await chooseFiles(page, INPUT, [textFile("empty.txt", 0)]);
    expect(await shadowText(page, INPUT)).toContain("“empty.txt” is empty (0 bytes) and was not added.");
    expect(requests.count).toBe(0);
    expect(await rowStates(page, INPUT)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("renders a file name with HTML in it as text", async () => {
    const { page, errors } = await open();
    // No "/" (a path separator, refused as a name): `</b>` cannot appear in a real file name.
    const name = `<img src=x onerror="window.pwned=1">&amp;<b>bold.txt`;
    await chooseFiles(page, INPUT, [textFile(name)]);
    await waitForRows(page, INPUT, 1);
    const rendered = await page.$eval(INPUT, (element) => ({
      name: element.shadowRoot!.querySelector(".name")!.textContent,
      images: element.shadowRoot!.querySelectorAll("img, b").length,
      pwned: (window as unknown as { pwned?: number }).pwned,
    }));
    expect(rendered).toEqual({ name, images: 0, pwned: undefined });
    expect((await formValues(page, "file"))[0]).toMatch(/^async-temp\//);
    expect(errors).toEqual([]);
  });

  it("refuses a dropped folder with a message", async () => {
    const { page, errors } = await open();
    const requests = countUploadUrlRequests(page);
    // A real folder cannot be put in a DataTransfer from script; this is what Chromium hands a drop
    // handler for one: an item whose entry is a directory (and a 0-byte File of the same name).
    await page.$eval(INPUT, (element) => {
      const folder = new File([], "holiday-photos");
      const item = { kind: "file", type: "", getAsFile: () => folder, webkitGetAsEntry: () => ({ isDirectory: true, name: "holiday-photos" }) };
      const dataTransfer = { types: ["Files"], items: [item], files: [folder], dropEffect: "none" };
      const drop = new Event("drop", { bubbles: true, cancelable: true, composed: true });
      Object.defineProperty(drop, "dataTransfer", { value: dataTransfer });
      element.dispatchEvent(drop);
    });
    expect(await shadowText(page, INPUT)).toContain("“holiday-photos” is a folder; choose the files inside it instead.");
    expect(requests.count).toBe(0);
    expect(await rowStates(page, INPUT)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("takes what fits of a drop of 1,000 files and says how many were left out", async () => {
    const { page, errors } = await open(formWith('multiple max-files="4"', FIELDS.multiple, "files"));
    await dropFiles(page, 1000);
    await waitForRows(page, INPUT, 4);
    expect(await shadowText(page, INPUT)).toContain("At most 4 files can be added; 996 were left out.");
    expect(await formValues(page, "files")).toHaveLength(4);

    const single = await open();
    await dropFiles(single.page, 1000);
    expect(await shadowText(single.page, INPUT)).toContain("Only one file can be added here; choose one.");
    expect(await rowStates(single.page, INPUT)).toEqual([]);
    expect([...errors, ...single.errors]).toEqual([]);
  });
});

/** Drops `count` small text files on the element through a real DataTransfer. */
async function dropFiles(page: Page, count: number): Promise<void> {
  await page.$eval(
    INPUT,
    (element, count) => {
      const dataTransfer = new DataTransfer();
      for (let index = 0; index < count; index++) dataTransfer.items.add(new File([`file ${index}`], `file-${index}.txt`, { type: "text/plain" }));
      element.dispatchEvent(new DragEvent("dragover", { bubbles: true, cancelable: true, composed: true, dataTransfer }));
      element.dispatchEvent(new DragEvent("drop", { bubbles: true, cancelable: true, composed: true, dataTransfer }));
    },
    count,
  );
}
