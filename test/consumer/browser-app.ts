import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";
import { launchBrowser } from "../helpers/browser";
import {
  createConsumerProject,
  startConsumerServer,
  textFile,
  uploadThroughPage,
  type ConsumerDocument,
  type ConsumerProject,
  type ConsumerProjectOptions,
  type ConsumerServer,
} from "./harness";

/** A consumer project served by the server of test (a), and a Chromium to open its pages. */
export interface BrowserApp {
  readonly project: ConsumerProject;
  readonly server: ConsumerServer;
  readonly browser: Browser;
}

export interface BrowserAppOptions extends ConsumerProjectOptions {
  /** What the server serves at `/`, in the project. @default its Vite build, `dist` */
  staticDir?: string;
  /** Runs after the install, before the server starts (pages copied or written into the project). */
  prepare?(project: ConsumerProject): Promise<void>;
  /** For the install and `prepare`. @default 300 s */
  setupTimeoutMs?: number;
}

/**
 * The setup the browser consumer tests share: the project installed, the server and Chromium started
 * in `beforeAll`, everything stopped and removed in `afterAll`. The returned app reads through to
 * them once `beforeAll` has run.
 */
export function useBrowserApp(name: string, { staticDir = "dist", prepare, setupTimeoutMs = 300_000, ...projectOptions }: BrowserAppOptions): BrowserApp {
  let project: ConsumerProject | undefined;
  let server: ConsumerServer | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    project = await createConsumerProject(name, projectOptions);
    await prepare?.(project);
    server = await startConsumerServer(project, { staticDir: join(project.dir, staticDir) });
    browser = await launchBrowser();
  }, setupTimeoutMs);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await project?.remove();
  });
  const started = <T>(value: T | undefined): T => value ?? raise(`${name}: the app is started in beforeAll`);
  return {
    get project() { return started(project); },
    get server() { return started(server); },
    get browser() { return started(browser); },
  };
}

/**
 * `vite build` in the project: one script holding the element, and the chunks it loads when needed
 * (the upload engine, …: the element's `import()`s), with no decorator left (`@property(` would be a syntax error).
 */
export async function expectViteBuild(project: ConsumerProject): Promise<void> {
  const { stdout } = await project.run("npx", ["vite", "build"]);
  expect(stdout).toMatch(/built in/);
  const assets = join(project.dir, "dist", "assets");
  const scripts = await Promise.all(
    (await readdir(assets)).filter((name) => name.endsWith(".js")).map((name) => readFile(join(assets, name), "utf8")),
  );
  expect(scripts.some((code) => code.includes("async-file-input"))).toBe(true);
  expect(scripts.some((code) => code.includes("upload-url"))).toBe(true);
  // Lit's decorators as written in the sources (`@property(`, `@state(`) would be a syntax error.
  for (const code of scripts) expect(code).not.toMatch(/@(property|state)\(/);
}

/**
 * Uploads a text file through the app's page and saves the form; before the save, the app's own
 * `async-upload-complete` handler must have shown the key in `#uploaded-key`.
 */
export async function uploadSeenByHandler({ browser, server }: BrowserApp): Promise<ConsumerDocument> {
  return uploadThroughPage(browser, server, `${server.url}/`, textFile(), {
    beforeSubmit: async (page, key) => {
      await expect.poll(() => page.locator("#uploaded-key").textContent()).toBe(key);
    },
  });
}

/**
 * create-vite's index.html and vite.config.ts for a framework template, as written by
 * `npm create vite` (`title`, the root element's id, the entry, and the framework's plugin).
 */
export function viteTemplateFiles(template: { title: string; rootId: string; entry: string; plugin: string; pluginPackage: string }): Record<string, string> {
  const { title, rootId, entry, plugin, pluginPackage } = template;
  const indexHtml = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>${title}</title>
  </head>
  <body>
    <div id="${rootId}"></div>
    <script type="module" src="/${entry}"></script>
  </body>
</html>
`;
  const viteConfig = `import { defineConfig } from 'vite'
import ${plugin} from '${pluginPackage}'

// https://vite.dev/config/
export default defineConfig({
  plugins: [${plugin}()],
})
`;
  return { "index.html": indexHtml, "vite.config.ts": viteConfig };
}

function raise(message: string): never {
  throw new Error(message);
}
