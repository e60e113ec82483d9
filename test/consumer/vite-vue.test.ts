// Consumer test (d): a Vite + Vue 3 app with Vite's default configuration (create-vite's vue-ts
// template: `plugins: [vue()]`, no `isCustomElement`) renders <async-file-input> in a form and builds;
// the built app, served by the server of test (a), uploads a file in Chromium, the Vue handler of
// `async-upload-complete` sees the key, and the form's submission is committed. The page must report
// no errors (raw decorators in the bundle once gave a blank page). The template typings
// (async-uploads/vue) are checked in typescript.test.ts: vue-tsc does not run on TypeScript 7.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { launchBrowser } from "../helpers/browser";
import {
  CONSUMER_ENDPOINT,
  CONSUMER_FIELD,
  CONSUMER_FORM_NAME,
  SERVER_DEPENDENCIES,
  createConsumerProject,
  startConsumerServer,
  textFile,
  uploadThroughPage,
  type ConsumerProject,
  type ConsumerServer,
} from "./harness";

const INDEX_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>Vite + Vue + TS</title>
  </head>
  <body>
    <div id="app"></div>
    <script type="module" src="/src/main.ts"></script>
  </body>
</html>
`;

const VITE_CONFIG = `import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// https://vite.dev/config/
export default defineConfig({
  plugins: [vue()],
})
`;

const MAIN_TS = `import { createApp } from 'vue'
import App from './App.vue'

createApp(App).mount('#app')
`;

/** The README's Vue snippet. */
const APP_VUE = `<script setup lang="ts">
import { ref } from "vue";
import "async-uploads/client"; // defines <async-file-input>
import type {} from "async-uploads/vue"; // types it in templates (vue-tsc)

const key = ref("");
</script>

<template>
  <form method="post" action="/save">
    <label for="file">Notes</label>
    <async-file-input
      id="file"
      name="${CONSUMER_FORM_NAME}"
      field-id="${CONSUMER_FIELD}"
      endpoint="${CONSUMER_ENDPOINT}"
      accept="text/plain,.txt"
      :max-size="262144"
      required
      @async-upload-complete="(event) => (key = event.detail.key)"
    ></async-file-input>
    <p>Uploaded: <output id="uploaded-key">{{ key }}</output></p>
    <button type="submit">Save</button>
  </form>
</template>
`;

describe("a Vite + Vue 3 app (default configuration)", () => {
  let project: ConsumerProject;
  let server: ConsumerServer;
  let browser: Browser;

  beforeAll(async () => {
    project = await createConsumerProject("vite-vue", {
      dependencies: [...SERVER_DEPENDENCIES, "lit", "vue"],
      devDependencies: ["vite", "@vitejs/plugin-vue"],
      files: {
        "index.html": INDEX_HTML,
        "vite.config.ts": VITE_CONFIG,
        "src/main.ts": MAIN_TS,
        "src/App.vue": APP_VUE,
      },
    });
    server = await startConsumerServer(project, { staticDir: join(project.dir, "dist") });
    browser = await launchBrowser();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await project?.remove();
  });

  it("builds (vite build) with no decorator left in the bundle", { timeout: 120_000 }, async () => {
    const { stdout } = await project.run("npx", ["vite", "build"]);
    expect(stdout).toMatch(/built in/);
    const assets = join(project.dir, "dist", "assets");
    const scripts = (await readdir(assets)).filter((name) => name.endsWith(".js"));
    expect(scripts).toHaveLength(1);
    const bundle = await readFile(join(assets, scripts[0]!), "utf8");
    expect(bundle).toContain("async-file-input");
    // Lit's decorators as written in the sources (`@property(`, `@state(`) would be a syntax error.
    expect(bundle).not.toMatch(/@(property|state)\(/);
  });

  it("uploads in Chromium, hands the key to the Vue handler, and the saved form is committed", { timeout: 60_000 }, async () => {
    const saved = await uploadThroughPage(browser, server, `${server.url}/`, textFile(), {
      beforeSubmit: async (page, key) => {
        await expect.poll(() => page.locator("#uploaded-key").textContent()).toBe(key);
      },
    });
    expect(saved.key).toMatch(/^documents\//);
  });
});
