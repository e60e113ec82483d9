import { readFile } from "node:fs/promises";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { documents } from "../../../demo/schema";
import { launchBrowser, watchPageErrors } from "../../helpers/browser";
import { chooseFiles, pngFile, waitForRows, type TestFile } from "../component/page-helpers";
import { PDF_BYTES, startDemo, type Backend, type DemoServer } from "./harness";

const ATTACHMENT = "#attachment-input";
const COVER = "#cover-input";

/** A few KiB of bytes that no sniffer recognises: the attachment field takes any type. */
function binaryFile(name: string, bytes = 3 * 1024, seed = 7): TestFile {
  const buffer = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) buffer[i] = (i * 31 + seed) % 251;
  return { name, mimeType: "application/octet-stream", buffer };
}

/** A second, different real image for the "replace the cover" case (a 2×1 PNG). */
function otherPng(name: string): TestFile {
  const base64 = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAIAAAB7QOjdAAAAD0lEQVR4nGP4z8DA0PAfAAgAAn+cRUBOAAAAAElFTkSuQmCC";
  return { name, mimeType: "image/png", buffer: Buffer.from(base64, "base64") };
}

/**
 * The demo in real Chromium against one backend: the whole journey of issue 4 (create with both
 * files, list, download and compare bytes, replace the cover, clear the attachment, a validation
 * error that keeps the uploads, delete). One browser per backend, a fresh browser context per test.
 */
export function describeDemoInBrowser(backend: Backend, extra?: (get: () => { server: DemoServer; browser: Browser }) => void): void {
  describe(`demo app in Chromium (${backend})`, () => {
    let server: DemoServer;
    let browser: Browser;
    const contexts: BrowserContext[] = [];

    beforeAll(async () => {
      [server, browser] = await Promise.all([startDemo(backend, { withComponent: true }), launchBrowser()]);
    });
    afterAll(async () => {
      await Promise.allSettled(contexts.map((context) => context.close()));
      await browser?.close();
      await server?.close();
    });

    /** A new visitor (own cookies) on `path`, with page errors collected. */
    async function visit(path: string): Promise<{ page: Page; errors: string[] }> {
      const context = await browser.newContext({ acceptDownloads: true });
      contexts.push(context);
      const page = await context.newPage();
      const errors = watchPageErrors(page);
      await page.goto(`${server.url}${path}`);
      return { page, errors };
    }

    async function fillNewDocument(page: Page, title: string, files: { attachment?: TestFile; cover?: TestFile }): Promise<void> {
      await page.waitForFunction(() => customElements.get("async-file-input") !== undefined);
      await page.getByLabel("Title").fill(title);
      if (files.attachment) await chooseFiles(page, ATTACHMENT, [files.attachment]);
      if (files.cover) await chooseFiles(page, COVER, [files.cover]);
      if (files.attachment) await waitForRows(page, ATTACHMENT, 1);
      if (files.cover) await waitForRows(page, COVER, 1);
    }

    /** Clicks Save and returns the id of the document page the app redirected to. */
    async function save(page: Page): Promise<string> {
      await Promise.all([page.waitForURL(/\/documents\/[0-9a-f-]{36}$/), page.getByRole("button", { name: "Save" }).click()]);
      return new URL(page.url()).pathname.split("/").pop()!;
    }

    /** Clicks a download link and returns the downloaded bytes and suggested name. */
    async function download(page: Page, testId: string): Promise<{ bytes: Buffer; name: string }> {
      const [file] = await Promise.all([page.waitForEvent("download"), page.getByTestId(testId).click()]);
      return { bytes: await readFile((await file.path())!), name: file.suggestedFilename() };
    }

    async function documentRow(id: string) {
      const [row] = await server.db.select().from(documents).where(eq(documents.id, id));
      return row;
    }

    it("creates a document with both files, lists it, and downloads both byte for byte", async () => {
      const attachment = binaryFile("quarterly report.bin");
      const cover = pngFile("cover.png");
      const { page, errors } = await visit("/documents/new");
      await fillNewDocument(page, "Quarterly report", { attachment, cover });
      const id = await save(page);

      await page.goto(`${server.url}/`);
      const item = page.locator(".documents li", { hasText: "Quarterly report" });
      await expect.poll(() => item.count()).toBe(1);
      expect(await item.textContent()).toContain("quarterly report.bin (3 KiB)");
      // The thumbnail loads through the download route and the storage's signed URL.
      await page.waitForFunction(() => (document.querySelector(".documents img.thumb") as HTMLImageElement | null)?.naturalWidth === 1);

      await item.getByRole("link", { name: "Quarterly report" }).click();
      await page.waitForURL(`${server.url}/documents/${id}`);
      const gotAttachment = await download(page, "attachment-download");
      expect(gotAttachment.name).toBe("quarterly report.bin");
      expect(gotAttachment.bytes.equals(attachment.buffer)).toBe(true);
      const gotCover = await download(page, "cover-download");
      expect(gotCover.bytes.equals(cover.buffer)).toBe(true);

      const row = await documentRow(id);
      expect(row).toMatchObject({ title: "Quarterly report", attachmentSize: attachment.buffer.length, coverType: "image/png", coverWidth: 1 });
      expect((await server.listKeys()).filter((key) => key.startsWith(`documents/${id}/`)).sort()).toEqual(
        [row!.attachmentKey, row!.coverKey].sort(),
      );
      expect(errors).toEqual([]);
    });

    it("replaces the cover on edit; the old cover object is deleted", async () => {
      const { page, errors } = await visit("/documents/new");
      await fillNewDocument(page, "Poster", { attachment: binaryFile("poster.bin"), cover: pngFile("first.png") });
      const id = await save(page);
      const before = (await documentRow(id))!;

      await page.goto(`${server.url}/documents/${id}/edit`);
      await page.waitForFunction(() => customElements.get("async-file-input") !== undefined);
      await waitForRows(page, COVER, 1, ["stored"]);
      // The stored cover shows its thumbnail, through the download route and the storage's signed URL.
      await page.waitForFunction(
        (selector) => (document.querySelector(selector)?.shadowRoot?.querySelector("img[part=thumbnail]") as HTMLImageElement | null)?.naturalWidth === 1,
        COVER,
      );
      const replacement = otherPng("second.png");
      await chooseFiles(page, COVER, [replacement]);
      await waitForRows(page, COVER, 1);
      await save(page);

      const after = (await documentRow(id))!;
      expect(after.coverKey).not.toBe(before.coverKey);
      expect(after).toMatchObject({ coverName: "second.png", coverWidth: 2, attachmentKey: before.attachmentKey });
      const got = await download(page, "cover-download");
      expect(got.bytes.equals(replacement.buffer)).toBe(true);
      await expect.poll(() => server.listKeys()).not.toContain(before.coverKey);
      expect(await server.listKeys()).toContain(before.attachmentKey);
      expect(errors).toEqual([]);
    });

    it("clears the attachment on edit; the old object is deleted", async () => {
      const { page, errors } = await visit("/documents/new");
      await fillNewDocument(page, "Minutes", { attachment: binaryFile("minutes.bin") });
      const id = await save(page);
      const before = (await documentRow(id))!;

      await page.goto(`${server.url}/documents/${id}/edit`);
      await page.waitForFunction(() => customElements.get("async-file-input") !== undefined);
      await waitForRows(page, ATTACHMENT, 1, ["stored"]);
      await page.locator(ATTACHMENT).getByRole("button", { name: "Remove minutes.bin" }).click();
      await waitForRows(page, ATTACHMENT, 0);
      await save(page);

      expect(await page.locator("dd").first().textContent()).toContain("None");
      expect(await documentRow(id)).toMatchObject({ attachmentKey: null, attachmentName: null, attachmentSize: null });
      await expect.poll(() => server.listKeys()).not.toContain(before.attachmentKey);
      expect(errors).toEqual([]);
    });

    it("keeps the uploads when the form comes back with a validation error", async () => {
      const attachment = binaryFile("draft.bin", 2048, 3);
      const { page, errors } = await visit("/documents/new");
      // Spaces pass the browser's `required` but not the server, which trims.
      await fillNewDocument(page, "   ", { attachment, cover: pngFile("draft.png") });
      await Promise.all([page.waitForURL(`${server.url}/documents`), page.getByRole("button", { name: "Save" }).click()]);
      expect(await page.locator("#title-error").textContent()).toBe("Enter a title.");
      await page.waitForFunction(() => customElements.get("async-file-input") !== undefined);
      // Both files are still there, as uploaded files, not uploaded again.
      await waitForRows(page, ATTACHMENT, 1, ["stored"]);
      await waitForRows(page, COVER, 1, ["stored"]);
      expect(await page.locator(ATTACHMENT).locator("[part=filename]").textContent()).toBe("draft.bin");

      await page.getByLabel("Title").fill("Draft");
      const id = await save(page);
      const got = await download(page, "attachment-download");
      expect(got.bytes.equals(attachment.buffer)).toBe(true);
      expect(await documentRow(id)).toMatchObject({ title: "Draft", coverName: "draft.png" });
      expect(errors).toEqual([]);
    });

    it("shows a refused cover's error in the field until another file is chosen", async () => {
      const { page, errors } = await visit("/documents/new");
      // A PDF that calls itself a PNG: the browser lets it through, the server's sniffing refuses it on save.
      await fillNewDocument(page, "Brochure", { cover: { name: "fake.png", mimeType: "image/png", buffer: Buffer.from(PDF_BYTES) } });
      await Promise.all([page.waitForURL(`${server.url}/documents`), page.getByRole("button", { name: "Save" }).click()]);
      await page.waitForFunction(() => customElements.get("async-file-input") !== undefined);
      const fieldMessage = () => page.$eval(COVER, (element) => element.shadowRoot!.querySelector("[part=message]")?.textContent ?? "");
      expect(await fieldMessage()).toMatch(/is not accepted/);
      await chooseFiles(page, COVER, [pngFile("real.png")]);
      await waitForRows(page, COVER, 1);
      expect(await fieldMessage()).toBe("");
      const id = await save(page);
      expect(await documentRow(id)).toMatchObject({ coverName: "real.png" });
      expect(errors).toEqual([]);
    });

    it("deletes a document and its files, once the person confirmed", async () => {
      const { page, errors } = await visit("/documents/new");
      await fillNewDocument(page, "Old news", { attachment: binaryFile("old.bin"), cover: pngFile("old.png") });
      const id = await save(page);
      expect((await server.listKeys()).filter((key) => key.startsWith(`documents/${id}/`))).toHaveLength(2);

      // Delete asks first, on a page of its own (so it asks without JavaScript too); nothing is gone yet.
      await Promise.all([page.waitForURL(`${server.url}/documents/${id}/delete`), page.getByRole("link", { name: "Delete" }).click()]);
      expect(await page.getByRole("heading").textContent()).toBe("Delete “Old news”?");
      expect(await page.locator("main").textContent()).toContain("old.bin, old.png");
      expect(await page.getByRole("link", { name: "Cancel" }).getAttribute("href")).toBe(`/documents/${id}`);
      expect(await documentRow(id)).toBeDefined();
      await Promise.all([page.waitForURL(`${server.url}/`), page.getByRole("button", { name: "Delete" }).click()]);
      expect(await page.locator(".documents li", { hasText: "Old news" }).count()).toBe(0);
      expect(await documentRow(id)).toBeUndefined();
      await expect.poll(async () => (await server.listKeys()).filter((key) => key.startsWith(`documents/${id}/`))).toEqual([]);
      const gone = await page.goto(`${server.url}/documents/${id}`);
      expect(gone?.status()).toBe(404);
      expect(errors).toEqual([]);
    });

    extra?.(() => ({ server, browser }));
  });
}
