import { describe, expect, it } from "vitest";
import { chooseFiles, formValues, shadowText, textFile, waitForRows } from "./page-helpers";
import { useComponentSession } from "./suite";

const INPUT = "async-file-input";
const CHUNK = /\/client\/chunks\/[\w-]+\.js$/;

/**
 * The element's file carries no upload code: the upload engine is a chunk loaded with the first file
 * (or when the person reaches for the field), the following of checks another. A page that cannot load
 * it (offline, or files replaced by a new deployment) shows a failed upload with Retry, not a dead field.
 */
describe("<async-file-input> chunks loaded when needed", () => {
  const session = useComponentSession("filesystem");
  const { open } = session;

  it("loads no chunk until the person reaches for the field, then the upload engine", async () => {
    const { page, errors } = await open();
    const loaded: string[] = [];
    page.on("request", (request) => {
      if (CHUNK.test(request.url())) loaded.push(request.url());
    });
    await page.waitForTimeout(300);
    expect(loaded).toEqual([]);
    await chooseFiles(page, INPUT, [textFile("first.txt")]);
    await waitForRows(page, INPUT, 1);
    expect(loaded.some((url) => /\/upload-engine-[\w-]+\.js$/.test(url))).toBe(true);
    expect(loaded.some((url) => /processing-controller/.test(url))).toBe(false);
    expect((await formValues(page, "file"))[0]).toMatch(/\/first\.txt$/);
    expect(errors).toEqual([]);
  });

  it("fails the upload with a retry when the engine's chunk cannot be loaded, and Retry loads it", async () => {
    const { page } = await open();
    await page.route(CHUNK, (route) => route.abort("internetdisconnected"));
    await chooseFiles(page, INPUT, [textFile("offline.txt")]);
    await waitForRows(page, INPUT, 1, ["failed"]);
    expect(await shadowText(page, INPUT)).toContain("The connection failed. Check your network, then retry.");
    expect(await page.$eval(INPUT, (element) => (element as HTMLElement & { validationMessage: string }).validationMessage)).toBe(
      "An upload failed. Retry it or remove the file.",
    );
    await page.unroute(CHUNK);
    await page.getByRole("button", { name: "Retry upload of offline.txt" }).click();
    await waitForRows(page, INPUT, 1);
    expect((await formValues(page, "file"))[0]).toMatch(/\/offline\.txt$/);
  });
});
