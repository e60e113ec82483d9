import { describe, expect, it } from "vitest";
import { axeViolations } from "../../helpers/browser";
import { FIELDS } from "./harness";
import { chooseFiles, formValues, rowStates, shadowText, textFile, waitForRows } from "./page-helpers";
import { FLAKY, INPUT, SCANNED, useProcessingSession } from "./processing-session";
import { formWith } from "./suite";

/** The element's live states of upload processing (see processing-session.ts for the server and steps). */
describe("<async-file-input> with processing steps", () => {
  const session = useProcessingSession();
  const { flaky, gate, open, checks, validationMessage, announcement, waitForText, watchEventSources, waitForRowsIn, processState, trySave } = session;

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
    expect(session.server.submissions.at(-1)?.scanned?.[0]).toMatch(/\/notes\.txt$/);
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
    flaky.fails = true;
    const { page, errors } = await open(formWith("", FLAKY, "flaky"));
    await chooseFiles(page, INPUT, [textFile("report.txt")]);
    await waitForRows(page, INPUT, 1, ["unchecked"]);
    expect(await shadowText(page, INPUT)).toContain("Could not be checked, try again");
    expect(await validationMessage(page)).toBe("report.txt could not be checked. Retry or remove the file.");
    expect(await trySave(page)).toBe(false);

    flaky.fails = false;
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
