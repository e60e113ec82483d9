import type { Page, Request, Route } from "playwright-core";

/** A file for `setInputFiles`. */
export interface TestFile {
  name: string;
  mimeType: string;
  buffer: Buffer;
}

export function textFile(name = "notes.txt", bytes = 2048): TestFile {
  return { name, mimeType: "text/plain", buffer: Buffer.alloc(bytes, "a") };
}

/** A 1×1 PNG: a real image, so thumbnails load and commit's sniffing agrees. */
export function pngFile(name = "pixel.png"): TestFile {
  const base64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
  return { name, mimeType: "image/png", buffer: Buffer.from(base64, "base64") };
}

/** Chooses files through the element's own file input, as the file chooser would. */
export async function chooseFiles(page: Page, selector: string, files: TestFile[]): Promise<void> {
  await page.locator(`${selector} input[type=file]`).setInputFiles(files);
}

/** The status classes of the element's file rows (`uploading`, `done`, `failed`, `stored`, …). */
export function rowStates(page: Page, selector: string): Promise<string[]> {
  return page.$eval(selector, (element) =>
    [...(element.shadowRoot?.querySelectorAll("li.file") ?? [])].map((row) => [...row.classList].filter((name) => name !== "file").join(" ")),
  );
}

/** Waits until every row of the element is in one of `states` (and there are `count` rows). */
export async function waitForRows(page: Page, selector: string, count: number, states: string[] = ["done"]): Promise<void> {
  await page.waitForFunction(
    ({ selector, count, states }) => {
      const rows = [...(document.querySelector(selector)?.shadowRoot?.querySelectorAll("li.file") ?? [])];
      return rows.length === count && rows.every((row) => states.some((state) => row.classList.contains(state)));
    },
    { selector, count, states },
    { timeout: 15_000 },
  );
}

/** Waits until the element's shadow root shows `text` (rows render once per frame, after the change). */
export async function waitForShadowText(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(
    ({ selector, text }) => document.querySelector(selector)?.shadowRoot?.textContent?.includes(text),
    { selector, text },
    { timeout: 15_000 },
  );
}

/** `FormData.getAll(name)` of the page's first form. */
export function formValues(page: Page, name: string): Promise<string[]> {
  return page.evaluate((name) => new FormData(document.querySelector("form")!).getAll(name).map(String), name);
}

/** Text of the element's shadow root (what a person reads). */
export function shadowText(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (element) => element.shadowRoot?.textContent?.replace(/\s+/g, " ").trim() ?? "");
}

/** Records the element's events (type and detail) into `window.events`. */
export async function recordEvents(page: Page, selector: string): Promise<void> {
  await page.$eval(selector, (element) => {
    const events: Array<{ type: string; detail: Record<string, unknown> | null; isEvent: boolean }> = [];
    (window as unknown as { events: typeof events }).events = events;
    for (const type of ["async-upload-start", "async-upload-progress", "async-upload-complete", "async-upload-error", "change"]) {
      element.addEventListener(type, (event) => {
        const detail = (event as Event & { detail?: Record<string, unknown> }).detail;
        const plain = detail ? Object.fromEntries(Object.entries(detail).filter(([key]) => key !== "file")) : null;
        events.push({ type, detail: plain, isEvent: event instanceof Event });
      });
    }
  });
}

export function recordedEvents(page: Page): Promise<Array<{ type: string; detail: Record<string, unknown> | null }>> {
  return page.evaluate(() => (window as unknown as { events: Array<{ type: string; detail: Record<string, unknown> | null }> }).events);
}

/** Counts the page's `POST …/upload-url` requests. */
export function countUploadUrlRequests(page: Page): { readonly count: number } {
  const counter = { count: 0 };
  page.on("request", (request: Request) => {
    if (request.method() === "POST" && request.url().endsWith("/async-uploads/upload-url")) counter.count++;
  });
  return counter;
}

/**
 * Matches the requests that carry file bytes to storage: the filesystem backend's PUT to our own
 * server, or anything sent to the S3 / Azure emulator.
 */
export function storageRequests(serverUrl: string): (url: URL) => boolean {
  return (url) =>
    /^https?:$/.test(url.protocol) && (url.pathname.includes("/async-uploads/fs/upload/") || !url.href.startsWith(serverUrl));
}

/**
 * Holds storage uploads until `release()` (then lets them through), so a test can act while an
 * upload is in progress. Aborted requests (cancel) are tolerated.
 */
export async function holdStorageUploads(
  page: Page,
  serverUrl: string,
): Promise<{ held: Promise<void>; count(): number; release(): Promise<void> }> {
  const waiting: Route[] = [];
  let notify!: () => void;
  const held = new Promise<void>((resolve) => (notify = resolve));
  let released = false;
  const matcher = storageRequests(serverUrl);
  await page.route(matcher, async (route) => {
    if (route.request().method() === "OPTIONS" || released) return route.continue().catch(() => {});
    waiting.push(route);
    notify();
  });
  return {
    held,
    count: () => waiting.length,
    async release() {
      released = true;
      await page.unroute(matcher);
      await Promise.all(waiting.map((route) => route.continue().catch(() => {})));
    },
  };
}
