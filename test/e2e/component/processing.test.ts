import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { axeViolations, launchBrowser } from "../../helpers/browser";
import { ACCEPT, FIELDS, MAX_SIZE, openPage, startComponentServer, type ComponentServer } from "./harness";
import { chooseFiles, formValues, rowStates, shadowText, textFile, waitForRows } from "./page-helpers";
import { formWith } from "./suite";

const INPUT = "async-file-input";
const SCANNED = "e2e.scanned";
const FLAKY = "e2e.flaky";

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
 * LISTEN/NOTIFY, and the built element in Chromium. The scan step waits on a gate per file name, so the
 * test sees "Scanning for viruses…" for as long as it looks, then passes or rejects ("virus" in the name).
 */
describe("<async-file-input> with processing steps", () => {
  let server: ComponentServer;
  let browser: Browser;
  const pages: Page[] = [];
  const gates = new Map<string, Gate>();
  const gate = (filename: string) => gates.get(filename) ?? gates.set(filename, new Gate()).get(filename)!;
  let flakyFails = true;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startComponentServer("filesystem"), launchBrowser()]);
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
            if (flakyFails) throw new Error("the converter is down");
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
  const waitForText = (page: Page, text: string) =>
    page.waitForFunction(
      ({ selector, text }) => document.querySelector(selector)?.shadowRoot?.textContent?.includes(text),
      { selector: INPUT, text },
      { timeout: 15_000 },
    );
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

  it("shows checking → scanning → ready live, and the form cannot be saved until the file is ready", async () => {
    const { page, errors } = await open(formWith("", SCANNED, "scanned"));
    await chooseFiles(page, INPUT, [textFile("notes.txt")]);
    await waitForText(page, "Scanning for viruses…");
    expect(await rowStates(page, INPUT)).toEqual(["done checking"]);
    expect(await shadowText(page, INPUT)).toContain("2 KiB · Scanning for viruses…");
    expect(await announcement(page)).toContain("notes.txt: Scanning for viruses…");
    expect(await validationMessage(page)).toBe("notes.txt is still being checked.");
    // The key is in the value already; the element keeps the form from being sent.
    expect((await formValues(page, "scanned"))[0]).toMatch(/\/notes\.txt$/);
    expect(await trySave(page)).toBe(false);
    expect(await axeViolations(page)).toEqual([]);

    gate("notes.txt").open();
    await waitForRows(page, INPUT, 1, ["ready"]);
    expect(await shadowText(page, INPUT)).toContain("Ready");
    expect(await announcement(page)).toContain("notes.txt: Ready");
    expect(await validationMessage(page)).toBe("");
    const seen = (await checks(page)).map((check) => (check.state === "running" ? check.label : check.state));
    expect(seen[0]).toBe("uploaded");
    expect(seen).toContain("Scanning for viruses");
    expect(seen.indexOf("Scanning for viruses")).toBeLessThan(seen.indexOf("passed"));
    expect(seen.at(-1)).toBe("passed");
    expect(await trySave(page)).toBe(true);
    expect(server.submissions.at(-1)?.scanned?.[0]).toMatch(/\/notes\.txt$/);
    expect(errors).toEqual([]);
  });

  it("shows a rejected file's reason, marks it invalid and blocks the form until it is removed", async () => {
    const { page, errors } = await open(formWith("multiple", SCANNED, "scanned"));
    gate("virus.txt").open();
    await chooseFiles(page, INPUT, [textFile("virus.txt")]);
    await waitForRows(page, INPUT, 1, ["rejected"]);
    expect(await rowStates(page, INPUT)).toEqual(["done rejected invalid"]);
    expect(await shadowText(page, INPUT)).toContain("Rejected");
    expect(await shadowText(page, INPUT)).toContain("virus.txt contains a test virus.");
    expect(await validationMessage(page)).toBe("virus.txt was rejected: virus.txt contains a test virus. Remove it or choose another file.");
    expect(await announcement(page)).toContain("virus.txt: Rejected – virus.txt contains a test virus.");
    expect(await trySave(page)).toBe(false);
    expect(await axeViolations(page)).toEqual([]);
    await page.emulateMedia({ colorScheme: "dark" });
    expect(await axeViolations(page)).toEqual([]);

    await page.getByRole("button", { name: "Remove virus.txt" }).click();
    await waitForRows(page, INPUT, 0);
    expect(await validationMessage(page)).toBe("");
    expect(await trySave(page)).toBe(true);
    expect(errors).toEqual([]);
  });

  it("shows 'could not be checked, try again' when a step fails, and Retry checks again", async () => {
    flakyFails = true;
    const { page, errors } = await open(formWith("", FLAKY, "flaky"));
    await chooseFiles(page, INPUT, [textFile("report.txt")]);
    await waitForRows(page, INPUT, 1, ["unchecked"]);
    expect(await shadowText(page, INPUT)).toContain("Could not be checked, try again");
    expect(await validationMessage(page)).toBe("report.txt could not be checked. Retry or remove the file.");
    expect(await trySave(page)).toBe(false);

    flakyFails = false;
    await page.getByRole("button", { name: "Retry checking report.txt" }).click();
    await waitForRows(page, INPUT, 1, ["ready"]);
    expect(await validationMessage(page)).toBe("");
    expect(await trySave(page)).toBe(true);
    expect(errors).toEqual([]);
  });

  it("two fields share one event stream, and it closes once their files are ready", async () => {
    const { page, errors } = await open(
      `${formWith("", SCANNED, "first").replace('id="upload"', 'id="first"').replace('for="upload"', 'for="first"')}` +
        `<label for="second">Second</label><async-file-input id="second" name="second" field-id="${SCANNED}"></async-file-input>`,
    );
    const openStreams = await watchEventSources(page);
    await chooseFiles(page, "#first", [textFile("one.txt")]);
    await waitForRowsIn(page, "#first", "checking");
    await chooseFiles(page, "#second", [textFile("two.txt")]);
    await waitForRowsIn(page, "#second", "checking");
    await page.waitForFunction(() => document.querySelector("#second")!.shadowRoot!.textContent!.includes("Scanning for viruses…"));
    await expect.poll(openStreams).toEqual([2]);

    gate("one.txt").open();
    await waitForRowsIn(page, "#first", "ready");
    await expect.poll(openStreams).toEqual([1]);
    gate("two.txt").open();
    await waitForRowsIn(page, "#second", "ready");
    await expect.poll(openStreams).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("stops listening when the element leaves the page, and follows the file again when it comes back", async () => {
    const { page, errors } = await open(formWith("", SCANNED, "scanned"));
    const streams = await watchEventSources(page);
    await chooseFiles(page, INPUT, [textFile("moved.txt")]);
    await waitForText(page, "Scanning for viruses…");
    await expect.poll(streams).toEqual([1]);
    await page.evaluate(() => {
      const element = document.querySelector("async-file-input")!;
      (window as unknown as { parked: Element }).parked = element;
      element.remove();
    });
    await expect.poll(streams).toEqual([]);
    gate("moved.txt").open();
    await page.evaluate(() => document.querySelector("form")!.prepend((window as unknown as { parked: Element }).parked));
    await waitForRows(page, INPUT, 1, ["ready"]);
    await expect.poll(streams).toEqual([]);
    expect(await trySave(page)).toBe(true);
    expect(errors).toEqual([]);
  });

  it("asks the server for the state when the stream refuses the topic token, and Retry shows the result", async () => {
    const { page, errors } = await open(formWith("", SCANNED, "scanned"));
    // The stream is asked with damaged tokens (as after tampering): it refuses the topic and carries on.
    await page.route("**/async-uploads/events?*", (route) => {
      const url = new URL(route.request().url());
      const tokens = url.searchParams.getAll("topic");
      url.searchParams.delete("topic");
      for (const token of tokens) url.searchParams.append("topic", `${token}x`);
      return route.continue({ url: url.href });
    });
    await chooseFiles(page, INPUT, [textFile("refused.txt")]);
    await waitForRows(page, INPUT, 1, ["unchecked"]);
    expect(await shadowText(page, INPUT)).toContain("Could not be checked, try again");
    expect(await trySave(page)).toBe(false);

    gate("refused.txt").open();
    const [key] = await formValues(page, "scanned");
    await expect.poll(() => processState(key!), { timeout: 15_000 }).toBe("passed");
    await page.getByRole("button", { name: "Retry checking refused.txt" }).click();
    await waitForRows(page, INPUT, 1, ["ready"]);
    expect(await trySave(page)).toBe(true);
    expect(errors).toEqual([]);
  });

  it("opens no event stream and posts nothing to /process for a field without steps", async () => {
    const { page, errors } = await open(formWith());
    await page.evaluate(() => {
      const w = window as unknown as { eventSources: string[] };
      w.eventSources = [];
      const Original = window.EventSource;
      window.EventSource = class extends Original {
        constructor(url: string | URL, init?: EventSourceInit) {
          super(url, init);
          w.eventSources.push(String(url));
        }
      };
    });
    const requests: string[] = [];
    page.on("request", (request) => requests.push(new URL(request.url()).pathname));
    await chooseFiles(page, INPUT, [textFile("plain.txt")]);
    await waitForRows(page, INPUT, 1);
    await page.waitForTimeout(300);
    expect(await rowStates(page, INPUT)).toEqual(["done"]);
    expect(await shadowText(page, INPUT)).toContain("Uploaded");
    expect(await page.evaluate(() => (window as unknown as { eventSources: string[] }).eventSources)).toEqual([]);
    expect(requests.filter((path) => path.endsWith("/events") || path.endsWith("/process"))).toEqual([]);
    expect(await checks(page)).toEqual([]);
    expect(FIELDS.single).toBe("e2e.file");
    expect(errors).toEqual([]);
  });
});
