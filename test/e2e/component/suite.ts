import type { Browser, FileChooser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { axeViolations, launchBrowser } from "../../helpers/browser";
import { ACCEPT, FIELDS, MAX_SIZE, openPage, startComponentServer, type Backend, type ComponentServer } from "./harness";
import {
  chooseFiles,
  countUploadUrlRequests,
  formValues,
  holdStorageUploads,
  pngFile,
  recordedEvents,
  recordEvents,
  rowStates,
  shadowText,
  storageRequests,
  textFile,
  waitForRows,
} from "./page-helpers";

const INPUT = "async-file-input";

/** A form with one component; `attributes` are added to the element. */
export function formWith(attributes = "", field: string = FIELDS.single, name = "file"): string {
  return `<form method="post" action="/submit">
  <label for="upload">Attachment</label>
  <async-file-input id="upload" name="${name}" field-id="${field}" accept="${ACCEPT}" max-size="${MAX_SIZE}" ${attributes}></async-file-input>
  <p><input name="title" aria-label="Title" value="x"></p>
  <button type="submit">Save</button> <button type="reset">Reset</button>
</form>`;
}

/**
 * Starts the component's server for `backend` and one browser around the surrounding `describe`, and
 * closes each test's pages after it, so memory stays flat on a small machine.
 */
export function useComponentSession(backend: Backend) {
  let server: ComponentServer | undefined;
  let browser: Browser | undefined;
  const pages: Page[] = [];
  beforeAll(async () => {
    [server, browser] = await Promise.all([startComponentServer(backend), launchBrowser()]);
  });
  afterEach(async () => {
    await Promise.all(pages.splice(0).map((page) => page.context().close()));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
  return {
    get server(): ComponentServer {
      return server!;
    },
    get browser(): Browser {
      return browser!;
    },
    async open(body = formWith()) {
      const opened = await openPage(browser!, server!.page(body));
      pages.push(opened.page);
      return opened;
    },
  };
}

/**
 * The browser cases every backend must pass, through the real server and the real storage
 * (the S3 and Azure emulators with CORS, or the filesystem routes). One browser per backend.
 */
export function describeComponent(backend: Backend): void {
  describe(`<async-file-input> in Chromium against ${backend}`, () => {
    const session = useComponentSession(backend);
    const { open } = session;

    it("uploads one file: progress rises to 100, the key is in FormData, and the form saves it", async () => {
      const { page, errors } = await open();
      const methods: string[] = [];
      const storage = storageRequests(session.server.url);
      page.on("request", (request) => {
        if (storage(new URL(request.url())) && request.method() !== "OPTIONS") methods.push(request.method());
      });
      await recordEvents(page, INPUT);
      await chooseFiles(page, INPUT, [pngFile("photo.png")]);
      await waitForRows(page, INPUT, 1);
      expect(methods).toEqual([backend === "s3" ? "POST" : "PUT"]);

      const [key] = await formValues(page, "file");
      expect(key).toMatch(/^async-temp\/\d{4}\/\d{2}\/\d{2}\/[0-9a-f-]{36}\/photo\.png$/);
      const events = await recordedEvents(page);
      const types = events.map((event) => event.type);
      expect(types[0]).toBe("async-upload-start");
      expect(types.slice(-2)).toEqual(["async-upload-complete", "change"]);
      const percents = events.filter((event) => event.type === "async-upload-progress").map((event) => event.detail!.percent as number);
      expect(percents.length).toBeGreaterThan(0);
      expect(percents).toEqual([...percents].sort((a, b) => a - b));
      expect(percents.at(-1)).toBe(100);
      expect(events.find((event) => event.type === "async-upload-complete")!.detail).toMatchObject({ key });

      await Promise.all([page.waitForURL(/\/submit$/), page.getByRole("button", { name: "Save" }).click()]);
      const saved = JSON.parse(await page.locator("#saved").textContent() ?? "{}");
      expect(saved.file).toHaveLength(1);
      expect(saved.file[0]).toMatch(/photo\.png$/);
      expect(saved.file[0]).not.toMatch(/^async-temp\//);
      expect(errors).toEqual([]);
    });

    it("cancel aborts the request and leaves no value", async () => {
      const { page, errors } = await open();
      const hold = await holdStorageUploads(page, session.server.url);
      await chooseFiles(page, INPUT, [textFile("draft.txt")]);
      await hold.held;
      await expect.poll(() => rowStates(page, INPUT)).toEqual(["uploading"]);
      const aborted = page.waitForEvent("requestfailed", (request) => storageRequests(session.server.url)(new URL(request.url())));
      await page.getByRole("button", { name: "Cancel upload of draft.txt" }).click();
      await aborted;
      await hold.release();
      await expect.poll(() => rowStates(page, INPUT)).toEqual([]);
      expect(await formValues(page, "file")).toEqual([""]);
      expect(await page.$eval("form", (form) => form.checkValidity())).toBe(true);
      expect(errors).toEqual([]);
    });

    it("gets a fresh URL once when storage answers 403 (an expired URL)", async () => {
      const { page, errors } = await open();
      const requests = countUploadUrlRequests(page);
      let refused = 0;
      await page.route(storageRequests(session.server.url), (route) => {
        if (route.request().method() === "OPTIONS" || refused > 0) return route.continue();
        refused++;
        return route.fulfill({
          status: 403,
          headers: { "Access-Control-Allow-Origin": "*", "Content-Type": "application/xml" },
          body: "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
        });
      });
      await chooseFiles(page, INPUT, [textFile("late.txt")]);
      await waitForRows(page, INPUT, 1);
      expect(refused).toBe(1);
      expect(requests.count).toBe(2);
      expect((await formValues(page, "file"))[0]).toMatch(/\/late\.txt$/);
      expect(errors).toEqual([]);
    });

    it("retries an upload whose connection failed", async () => {
      const { page, errors } = await open();
      const requests = countUploadUrlRequests(page);
      let failed = 0;
      await page.route(storageRequests(session.server.url), (route) => {
        if (route.request().method() === "OPTIONS" || failed > 0) return route.continue();
        failed++;
        return route.abort("connectionreset");
      });
      await chooseFiles(page, INPUT, [textFile("flaky.txt")]);
      await waitForRows(page, INPUT, 1);
      expect(failed).toBe(1);
      expect(requests.count).toBe(2);
      expect((await formValues(page, "file"))[0]).toMatch(/\/flaky\.txt$/);
      expect(errors).toEqual([]);
    });

    it("refuses an oversized or wrong-type file at once, without any request", async () => {
      const { page, errors } = await open();
      const requests = countUploadUrlRequests(page);
      await recordEvents(page, INPUT);
      await chooseFiles(page, INPUT, [textFile("big.txt", MAX_SIZE + 1)]);
      expect(await shadowText(page, INPUT)).toContain("“big.txt” is larger than 256 KiB and was not added.");
      await chooseFiles(page, INPUT, [{ name: "setup.exe", mimeType: "application/x-msdownload", buffer: Buffer.from("MZ") }]);
      expect(await shadowText(page, INPUT)).toContain("“setup.exe” is not an accepted type");
      const events = await recordedEvents(page);
      expect(events.map((event) => [event.type, event.detail?.code])).toEqual([
        ["async-upload-error", "file_too_large"],
        ["async-upload-error", "type_not_allowed"],
      ]);
      expect(requests.count).toBe(0);
      expect(await rowStates(page, INPUT)).toEqual([]);
      expect(await formValues(page, "file")).toEqual([""]);
      expect(errors).toEqual([]);
    });

    it("does not submit while an upload is in progress, and submits once it is done", async () => {
      const { page, errors } = await open();
      const hold = await holdStorageUploads(page, session.server.url);
      await chooseFiles(page, INPUT, [textFile("slow.txt")]);
      await hold.held;
      const submitted = session.server.submissions.length;
      await page.getByRole("button", { name: "Save" }).click();
      await page.waitForTimeout(300);
      expect(session.server.submissions.length).toBe(submitted);
      expect(new URL(page.url()).pathname).toMatch(/^\/page\//);
      expect(await page.$eval(INPUT, (element) => [element.matches(":invalid"), element.validationMessage])).toEqual([
        true,
        "Please wait until the upload has finished.",
      ]);

      await hold.release();
      await waitForRows(page, INPUT, 1);
      await Promise.all([page.waitForURL(/\/submit$/), page.getByRole("button", { name: "Save" }).click()]);
      expect(session.server.submissions.length).toBe(submitted + 1);
      expect(session.server.submissions.at(-1)!.file![0]).toMatch(/\/slow\.txt$/);
      expect(errors).toEqual([]);
    });

    it("resets and validates `required` like a native input, also with an existing file", async () => {
      const { page, errors } = await open(formWith("required"));
      const state = () =>
        page.$eval(INPUT, (element) => ({
          invalid: element.matches(":invalid"),
          valueMissing: element.validity.valueMissing,
          message: element.validationMessage,
          formValid: element.form!.checkValidity(),
        }));
      expect(await state()).toEqual({ invalid: true, valueMissing: true, message: "Please choose a file.", formValid: false });
      await chooseFiles(page, INPUT, [textFile("needed.txt")]);
      await waitForRows(page, INPUT, 1);
      expect(await state()).toEqual({ invalid: false, valueMissing: false, message: "", formValid: true });
      await page.getByRole("button", { name: "Reset" }).click();
      expect(await formValues(page, "file")).toEqual([""]);
      expect(await rowStates(page, INPUT)).toEqual([]);
      expect((await state()).valueMissing).toBe(true);

      const existing = "e2e.file/record-1/0b7d/old.pdf";
      const edit = await open(formWith(`required value="${existing}" filename="old.pdf" size="1234" download-url="/files/old.pdf"`));
      expect(await formValues(edit.page, "file")).toEqual([existing]);
      expect(await rowStates(edit.page, INPUT)).toEqual(["stored"]);
      expect(await edit.page.getByRole("link", { name: "old.pdf" }).getAttribute("href")).toBe("/files/old.pdf");
      await edit.page.getByRole("button", { name: "Remove old.pdf" }).click();
      expect(await formValues(edit.page, "file")).toEqual([""]);
      expect(await edit.page.$eval(INPUT, (element) => element.validity.valueMissing)).toBe(true);
      await chooseFiles(edit.page, INPUT, [textFile("new.txt")]);
      await waitForRows(edit.page, INPUT, 1);
      expect((await formValues(edit.page, "file"))[0]).toMatch(/^async-temp\/.*\/new\.txt$/);
      await edit.page.getByRole("button", { name: "Reset" }).click();
      expect(await formValues(edit.page, "file")).toEqual([existing]);
      expect(await rowStates(edit.page, INPUT)).toEqual(["stored"]);
      expect([...errors, ...edit.errors]).toEqual([]);
    });

    it("works with the keyboard alone", async () => {
      const { page, errors } = await open();
      // Listening from the start: Playwright turns on file-chooser interception asynchronously, and a
      // chooser opened before that is a real (invisible) dialog that never reports.
      const choosers: FileChooser[] = [];
      page.on("filechooser", (chooser) => choosers.push(chooser));
      const nextChooser = async () => {
        await expect.poll(() => choosers.length).toBe(1);
        return choosers.shift()!;
      };
      const focused = () =>
        page.evaluate(() => {
          const inner = document.activeElement?.shadowRoot?.activeElement;
          return `${document.activeElement?.tagName.toLowerCase()} > ${inner?.getAttribute("part") ?? ""} ${inner?.getAttribute("aria-label") ?? ""}`;
        });
      await page.keyboard.press("Tab");
      expect(await focused()).toBe("async-file-input > choose-button Attachment: Choose a file or drop it here");
      await page.keyboard.press("Enter");
      await (await nextChooser()).setFiles([textFile("typed.txt")]);
      await waitForRows(page, INPUT, 1);
      expect(await focused()).toBe("async-file-input > button remove-button Remove typed.txt");
      expect((await formValues(page, "file"))[0]).toMatch(/\/typed\.txt$/);
      await page.keyboard.press("Shift+Tab");
      expect(await focused()).toBe("async-file-input > button replace-button Replace typed.txt");
      await page.keyboard.press("Tab");
      await page.keyboard.press("Enter");
      expect(await formValues(page, "file")).toEqual([""]);
      expect(await focused()).toBe("async-file-input > choose-button Attachment: Choose a file or drop it here");
      await page.keyboard.press("Space");
      await (await nextChooser()).setFiles([textFile("spaced.txt")]);
      await waitForRows(page, INPUT, 1);
      expect(errors).toEqual([]);
    });

    it("has no axe violations: empty, uploaded and failed, in light and dark", async () => {
      const { page, errors } = await open(formWith("", FIELDS.multiple, "files").replace('accept=', 'multiple max-files="4" accept='));
      expect(await axeViolations(page)).toEqual([]);
      await chooseFiles(page, INPUT, [pngFile("ok.png")]);
      await waitForRows(page, INPUT, 1);
      await page.route("**/async-uploads/upload-url", (route) =>
        route.fulfill({ status: 500, contentType: "application/json", body: '{"error":{"code":"internal_error","message":"Boom."}}' }),
      );
      await chooseFiles(page, INPUT, [textFile("broken.txt")]);
      await waitForRows(page, INPUT, 2, ["done", "failed"]);
      expect(await rowStates(page, INPUT)).toEqual(["done", "failed"]);
      expect(await axeViolations(page)).toEqual([]);
      await page.emulateMedia({ colorScheme: "dark" });
      expect(await axeViolations(page)).toEqual([]);
      expect(errors).toEqual([]);
    });

    it("uploads several files in parallel, at most 6 at a time, and saves them all", async () => {
      const { page, errors } = await open(formWith('multiple max-files="7"', FIELDS.multiple, "files"));
      const hold = await holdStorageUploads(page, session.server.url);
      const names = ["a.png", "b.txt", "c.txt", "d.txt", "e.txt", "f.txt", "g.txt"];
      const files = names.map((name) => (name.endsWith(".png") ? pngFile(name) : textFile(name)));
      await chooseFiles(page, INPUT, files);
      await page.waitForFunction(() => true);
      // Six uploads start within moments on an idle machine; a loaded one may need seconds.
      await expect.poll(() => hold.count(), { timeout: 15_000 }).toBe(6);
      await page.waitForTimeout(200);
      expect(hold.count()).toBe(6);
      await hold.release();
      await waitForRows(page, INPUT, 7);
      const keys = await formValues(page, "files");
      expect(keys.map((key) => key.slice(key.lastIndexOf("/") + 1))).toEqual(names);
      expect(new Set(keys).size).toBe(7);

      await chooseFiles(page, INPUT, [textFile("h.txt")]);
      expect(await shadowText(page, INPUT)).toContain("At most 7 files can be added; 1 was left out.");
      await Promise.all([page.waitForURL(/\/submit$/), page.getByRole("button", { name: "Save" }).click()]);
      const saved = JSON.parse((await page.locator("#saved").textContent()) ?? "{}");
      expect(saved.files).toHaveLength(7);
      expect(errors).toEqual([]);
    });
  });
}
