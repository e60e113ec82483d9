import { describe, expect, it } from "vitest";
import { chooseFiles, formValues, holdStorageUploads, textFile, waitForRows } from "./page-helpers";
import { INPUT, SCANNED, useProcessingSession } from "./processing-session";
import { formWith } from "./suite";

/** A single-file field replaced while its file is being checked (see processing-session.ts). */
describe("<async-file-input> replacing a file that is being checked", () => {
  const session = useProcessingSession();
  const { gate, open, waitForText, watchEventSources, trySave } = session;

  it("stops following the replaced file, and follows it again when the replacement is canceled", async () => {
    const { page, errors } = await open(formWith("", SCANNED, "scanned"));
    const streams = await watchEventSources(page);
    await chooseFiles(page, INPUT, [textFile("first.txt")]);
    await waitForText(page, "Scanning for viruses…");
    const [firstKey] = await formValues(page, "scanned");
    await expect.poll(streams).toEqual([1]);

    const held = await holdStorageUploads(page, session.server.url);
    await chooseFiles(page, INPUT, [textFile("second.txt")]);
    await held.held;
    // The replaced file is out of sight and out of the stream; its key stays in the value meanwhile.
    await expect.poll(streams).toEqual([]);
    expect(await formValues(page, "scanned")).toEqual([firstKey]);

    await page.getByRole("button", { name: "Cancel upload of second.txt" }).click();
    await held.release();
    await waitForText(page, "first.txt");
    await expect.poll(streams).toEqual([1]);
    gate("first.txt").open();
    await waitForRows(page, INPUT, 1, ["ready"]);
    expect(await formValues(page, "scanned")).toEqual([firstKey]);
    expect(await trySave(page)).toBe(true);
    expect(errors).toEqual([]);
  });
});
