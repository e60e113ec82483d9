// Consumer test (d): a Vite + Vue 3 app with Vite's default configuration (create-vite's vue-ts
// template: `plugins: [vue()]`, no `isCustomElement`) renders <async-file-input> in a form and builds;
// the built app, served by the server of test (a), uploads a file in Chromium, the Vue handler of
// `async-upload-complete` sees the key, and the form's submission is committed. The page must report
// no errors (raw decorators in the bundle once gave a blank page). The template typings
// (async-uploads/vue) are checked in typescript.test.ts: vue-tsc does not run on TypeScript 7.
import { describe, expect, it } from "vitest";
import { expectViteBuild, uploadSeenByHandler, useBrowserApp, viteTemplateFiles } from "./browser-app";
import { CONSUMER_ENDPOINT, CONSUMER_FIELD, CONSUMER_FORM_NAME, SERVER_DEPENDENCIES } from "./harness";

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
  const app = useBrowserApp("vite-vue", {
    dependencies: [...SERVER_DEPENDENCIES, "lit", "vue"],
    devDependencies: ["vite", "@vitejs/plugin-vue"],
    files: {
      ...viteTemplateFiles({ title: "Vite + Vue + TS", rootId: "app", entry: "src/main.ts", plugin: "vue", pluginPackage: "@vitejs/plugin-vue" }),
      "src/main.ts": MAIN_TS,
      "src/App.vue": APP_VUE,
    },
  });

  it("builds (vite build) with no decorator left in the bundle", { timeout: 120_000 }, async () => {
    await expectViteBuild(app.project);
  });

  it("uploads in Chromium, hands the key to the Vue handler, and the saved form is committed", { timeout: 60_000 }, async () => {
    const saved = await uploadSeenByHandler(app);
    expect(saved.key).toMatch(/^documents\//);
  });
});
