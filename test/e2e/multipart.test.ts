import { serve, type ServerType } from "@hono/node-server";
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import type { Browser, BrowserContext, Page, Route } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildClient } from "../../client/build";
import type { ListPartsResponse } from "../../shared/multipart";
import { createAsyncUploads, type AsyncUploads } from "../../server/create-async-uploads";
import { asyncTempFile } from "../../server/db/schema";
import { KiB, MiB } from "../../server/registry";
import { startBackend, type TestBackend } from "../helpers/backends";
import { launchBrowser, watchPageErrors } from "../helpers/browser";
import { createTestDatabase } from "../helpers/db";
import { formValues, waitForRows } from "./component/page-helpers";
import { bundleModule, componentPage, fileBytes, PAGE, partNumberOf } from "./multipart-pages";

/**
 * The chunked-upload module (`client/async-file-input/multipart-upload.ts`) in a real Chromium against
 * our real server and each real storage: parts in parallel, a part request aborted by the network and
 * retried, and a reload in the middle after which the same file, chosen again on a new page, resumes
 * with only the parts storage does not hold. The module is loaded on its own: the component's engine
 * hands large files to it (see docs/multipart.md).
 */

const FIELD = "e2e.big";
const PRINCIPAL = "e2e-person";
// 8 parts, the last one short.
const PART_COUNT = 8;

type Backend = "filesystem" | "s3" | "azure";

describe.each(["filesystem", "s3", "azure"] as const)("chunked upload in Chromium on %s", (backend: Backend) => {
  let browser: Browser;
  let context: BrowserContext;
  let uploads: AsyncUploads;
  let storage: TestBackend;
  let server: ServerType;
  let origin: string;
  let closeDb: () => Promise<void>;
  // S3 (RGW, as S3) assembles no part under 5 MiB but the last; the others take small parts (quicker).
  const PART_SIZE = backend === "s3" ? 5 * MiB : 256 * KiB;
  const SIZE = (PART_COUNT - 1) * PART_SIZE + 1234;

  beforeAll(async () => {
    storage = await startBackend(backend, { bucket: "multipart-e2e", ...(backend === "s3" ? {} : { minPartSize: 1 }) });
    const connection = await createTestDatabase();
    closeDb = connection.close;
    uploads = createAsyncUploads({
      db: connection.db,
      secret: "multipart-e2e-secret-multipart-e2e-secret-0123",
      storage: storage.storage,
      getPrincipal: () => PRINCIPAL,
      log: () => {},
    });
    uploads.registry.register(FIELD, { maxSize: 64 * MiB, multipartThreshold: MiB, partSize: PART_SIZE });
    const [code, component] = await Promise.all([bundleModule(), buildClient({ write: false })]);
    const app = new Hono();
    app.route("/async-uploads", uploads.routes);
    app.get("/multipart.js", (c) => c.body(code, 200, { "Content-Type": "text/javascript" }));
    // The element's file and the chunks it loads when needed (`chunks/…`).
    app.get("/*", (c, next) => {
      const file = component[c.req.path.slice(1)];
      return file ? c.body(file as Uint8Array<ArrayBuffer>, 200, { "Content-Type": "text/javascript" }) : next();
    });
    app.get("/", (c) => c.html(PAGE));
    app.get("/component", (c) => c.html(componentPage(FIELD)));
    server = await new Promise((resolve) => {
      const started = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(started));
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    origin = `http://127.0.0.1:${address.port}`;
    browser = await launchBrowser();
    context = await browser.newContext();
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await closeDb?.();
    await storage?.close();
  });

  async function openPage() {
    const page = await context.newPage();
    const errors = watchPageErrors(page);
    const parts: number[] = [];
    const network = { completions: [] as Array<{ parts: Array<{ partNumber: number; etag?: string }> }> };
    page.on("request", (request) => {
      const partNumber = request.method() === "PUT" ? partNumberOf(request.url()) : null;
      if (partNumber !== null) parts.push(partNumber);
      if (request.url().endsWith("/multipart/complete")) network.completions.push(request.postDataJSON());
    });
    await page.goto(origin);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    return { page, errors, parts, network };
  }

  /**
   * Starts the upload in the page as the component's engine does: `upload-url` with `multipart: true`,
   * then the module; `cancelAfterMs` aborts it then, as the person's cancel would. `window.result`
   * settles with the key, or the error's code (or message).
   */
  const startUpload = (page: Page, { cancelAfterMs }: { cancelAfterMs?: number } = {}) =>
    page.evaluate(
      async ({ size, fieldId, cancelAfterMs }) => {
        const w = window as unknown as Record<string, any>;
        const file: File = w.makeFile(size);
        const response = await fetch("/async-uploads/upload-url", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ fieldId, filename: file.name, contentType: file.type, size, multipart: true }),
        });
        const started = await response.json();
        const controller = new AbortController();
        w.progress = [];
        w.result = w.multipart
          .uploadInParts({ endpoint: "/async-uploads", fieldId, file, signal: controller.signal, onProgress: (n: number) => w.progress.push(n), retryDelay: () => 100 }, started)
          .then((done: { key: string }) => done.key, (error: { code?: string; message: string }) => error.code ?? `failed: ${error.message}`);
        if (cancelAfterMs !== undefined) setTimeout(() => controller.abort(), cancelAfterMs);
        return started.key as string;
      },
      { size: SIZE, fieldId: FIELD, cancelAfterMs },
    );

  async function commitAndRead(key: string): Promise<Uint8Array> {
    const result = await uploads.commit({ fieldId: FIELD, value: key, principal: PRINCIPAL, instanceId: "record-1" });
    return (await storage.storage.readFirstBytes(result.key!, SIZE + 1))!;
  }

  async function listParts(key: string): Promise<ListPartsResponse> {
    const response = await fetch(`${origin}/async-uploads/multipart/list-parts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key }),
    });
    return (await response.json()) as ListPartsResponse;
  }

  it("sends parts in parallel, retries a part whose request the network dropped, and reports progress that never goes back", async () => {
    const { page, errors, parts, network } = await openPage();
    let dropped = false;
    await page.route(
      (url) => partNumberOf(url.href) !== null,
      async (route: Route) => {
        if (partNumberOf(route.request().url()) === 3 && !dropped) {
          dropped = true;
          return route.abort("connectionreset");
        }
        return route.continue();
      },
    );
    const key = await startUpload(page);
    const result = await page.waitForFunction(() => (window as unknown as { result: Promise<string> }).result, undefined, { timeout: 20_000 });
    expect(await result.jsonValue()).toBe(key);

    expect(dropped).toBe(true);
    expect(parts.filter((n) => n === 3)).toHaveLength(2);
    expect([...parts].sort((a, b) => a - b)).toEqual([1, 2, 3, 3, 4, 5, 6, 7, 8]);
    // Six at a time (the default), never more.
    expect(await page.evaluate(() => (window as unknown as { maxInFlight: number }).maxInFlight)).toBe(6);
    // The part list sent at the end: every part in order, with the ETags S3 answered (CORS exposes them).
    const [completion] = network.completions;
    expect(completion?.parts.map((part) => part.partNumber)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    if (backend === "s3") expect(completion?.parts.every((part) => /^"[0-9a-f]{32}"$/.test(part.etag ?? ""))).toBe(true);
    const progress = await page.evaluate(() => (window as unknown as { progress: number[] }).progress);
    expect(progress.at(-1)).toBe(SIZE);
    expect(progress.every((value, i) => i === 0 || value >= progress[i - 1]!)).toBe(true);
    // Resume state is forgotten once the upload completed.
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("async-uploads:")))).toEqual([]);

    expect(Buffer.from(await commitAndRead(key)).equals(Buffer.from(fileBytes(SIZE)))).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("resumes after a reload: the same file chosen again on the new page sends only the parts storage lacks", async () => {
    // Three parts get through, then the network goes down and the person reloads the page.
    const { page, errors, parts } = await openPage();
    let passed = 0;
    const offline = (route: Route) => {
      if (passed < 3) {
        passed++;
        return route.continue();
      }
      return route.abort("internetdisconnected");
    };
    const isPart = (url: URL) => partNumberOf(url.href) !== null;
    await page.route(isPart, offline);
    const key = await startUpload(page);
    await expect.poll(async () => (await listParts(key)).parts.length, { timeout: 10_000 }).toBe(3);
    // Still offline while the old page unloads (a closing page's requests escape playwright's routes).
    await page.reload();
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    await page.unroute(isPart, offline);
    const held = (await listParts(key)).parts.map((part) => part.partNumber);
    expect(held).toHaveLength(3);
    parts.length = 0;

    // The new page knows nothing but what localStorage kept: the same file chosen again resumes.
    const resumed = await page.evaluate(
      async ({ size, fieldId }) => {
        const w = window as unknown as Record<string, any>;
        const file: File = w.makeFile(size);
        const record = w.multipart.findResumable({ endpoint: "/async-uploads", fieldId, file });
        if (!record) return { offered: false };
        const progress: number[] = [];
        const done = await w.multipart.resumeInParts(
          { endpoint: "/async-uploads", fieldId, file, signal: new AbortController().signal, onProgress: (n: number) => progress.push(n) },
          record,
        );
        return { offered: true, key: done.key as string, progress, left: Object.keys(localStorage).filter((k) => k.startsWith("async-uploads:")) };
      },
      { size: SIZE, fieldId: FIELD },
    );
    expect(resumed).toMatchObject({ offered: true, key, left: [] });
    // Only the missing parts went over the network, and progress started from what storage held.
    expect([...parts].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8].filter((n) => !held.includes(n)));
    expect(parts).toHaveLength(PART_COUNT - 3);
    expect(resumed.progress?.[0]).toBe(3 * PART_SIZE);
    expect(Buffer.from(await commitAndRead(key)).equals(Buffer.from(fileBytes(SIZE)))).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("cancel stops the parts and cancels the upload on the server", async () => {
    const { page, errors } = await openPage();
    await page.route(
      (url) => partNumberOf(url.href) !== null,
      async () => {
        // Parts hang until the person cancels.
      },
    );
    const key = await startUpload(page, { cancelAfterMs: 300 });
    const outcome = await page.waitForFunction(() => (window as unknown as { result: Promise<string> }).result);
    expect(await outcome.jsonValue()).toBe("aborted");
    await expect
      .poll(async () => (await uploads.db.select().from(asyncTempFile).where(eq(asyncTempFile.key, key)))[0]?.status, { timeout: 5000 })
      .toBe("canceled");
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("async-uploads:")))).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("in the component: a large file goes in parts, a dropped part is retried, and the form gets the key", async () => {
    const { page, errors, parts } = await openComponentPage();
    let dropped = false;
    await page.route(
      (url) => partNumberOf(url.href) !== null,
      (route: Route) => {
        if (partNumberOf(route.request().url()) === 2 && !dropped) {
          dropped = true;
          return route.abort("connectionreset");
        }
        return route.continue();
      },
    );
    await page.evaluate((size) => (window as unknown as { chooseSameFile(size: number): Promise<void> }).chooseSameFile(size), SIZE);
    await waitForRows(page, "async-file-input", 1, ["done"]);
    expect([...parts].sort((a, b) => a - b)).toEqual([1, 2, 2, 3, 4, 5, 6, 7, 8]);
    const [key] = await formValues(page, "file");
    expect(key).toMatch(/^async-temp\/.+\/big\.bin$/);
    expect(Buffer.from(await commitAndRead(key!)).equals(Buffer.from(fileBytes(SIZE)))).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("in the component: after a reload, choosing the same file again sends only the missing parts", async () => {
    const { page, errors, parts } = await openComponentPage();
    let passed = 0;
    const isPart = (url: URL) => partNumberOf(url.href) !== null;
    const offline = (route: Route) => (passed++ < 3 ? route.continue() : route.abort("internetdisconnected"));
    await page.route(isPart, offline);
    const started = page.waitForResponse((response) => response.url().endsWith("/upload-url"));
    await page.evaluate((size) => (window as unknown as { chooseSameFile(size: number): Promise<void> }).chooseSameFile(size), SIZE);
    const { key } = (await (await started).json()) as { key: string };
    await expect.poll(async () => (await listParts(key)).parts.length, { timeout: 10_000 }).toBe(3);
    await page.reload();
    await page.unroute(isPart, offline);
    parts.length = 0;
    const uploadUrlCalls: string[] = [];
    page.on("request", (request) => request.url().endsWith("/upload-url") && uploadUrlCalls.push(request.url()));

    await page.evaluate((size) => (window as unknown as { chooseSameFile(size: number): Promise<void> }).chooseSameFile(size), SIZE);
    await waitForRows(page, "async-file-input", 1, ["done"]);
    expect(parts).toHaveLength(PART_COUNT - 3);
    expect(uploadUrlCalls).toEqual([]);
    expect(await formValues(page, "file")).toEqual([key]);
    expect(Buffer.from(await commitAndRead(key)).equals(Buffer.from(fileBytes(SIZE)))).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  async function openComponentPage() {
    const page = await context.newPage();
    const errors = watchPageErrors(page);
    const parts: number[] = [];
    page.on("request", (request) => {
      const partNumber = request.method() === "PUT" ? partNumberOf(request.url()) : null;
      if (partNumber !== null) parts.push(partNumber);
    });
    await page.goto(`${origin}/component`);
    await page.waitForFunction(() => customElements.get("async-file-input") !== undefined);
    return { page, errors, parts };
  }
});
