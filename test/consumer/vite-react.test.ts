// Consumer test (c): a Vite + React 19 app with Vite's default configuration (create-vite's react-ts
// template: `plugins: [react()]`, nothing else) renders <async-file-input> in a form, type-checks with
// the async-uploads/react typings and builds; the built app, served by the server of test (a), uploads
// a file in Chromium, the React handler of `async-upload-complete` sees the key, and the form's
// submission is committed. The page must report no errors (raw decorators in the bundle once gave a
// blank page).
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
    <title>Vite + React + TS</title>
  </head>
  <body>
    <div id="root"></div>
    <script type="module" src="/src/main.tsx"></script>
  </body>
</html>
`;

const VITE_CONFIG = `import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// https://vite.dev/config/
export default defineConfig({
  plugins: [react()],
})
`;

const MAIN_TSX = `import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import App from './App.tsx'

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
)
`;

/** The README's React snippet. */
const APP_TSX = `import { useState } from "react";
import "async-uploads/client"; // defines <async-file-input>
import type {} from "async-uploads/react"; // types it in JSX

export default function App() {
  const [key, setKey] = useState("");
  return (
    <form method="post" action="/save">
      <label htmlFor="file">Notes</label>
      <async-file-input
        id="file"
        name="${CONSUMER_FORM_NAME}"
        field-id="${CONSUMER_FIELD}"
        endpoint="${CONSUMER_ENDPOINT}"
        accept="text/plain,.txt"
        max-size={262144}
        required
        onasync-upload-complete={(event) => setKey(event.detail.key)}
      />
      <p>Uploaded: <output id="uploaded-key">{key}</output></p>
      <button type="submit">Save</button>
    </form>
  );
}
`;

/** create-vite's tsconfig.app.json, in one file. */
const TSCONFIG = `${JSON.stringify(
  {
    compilerOptions: {
      target: "ES2022",
      useDefineForClassFields: true,
      lib: ["ES2022", "DOM", "DOM.Iterable"],
      module: "ESNext",
      types: ["vite/client"],
      skipLibCheck: true,
      moduleResolution: "bundler",
      allowImportingTsExtensions: true,
      verbatimModuleSyntax: true,
      moduleDetection: "force",
      noEmit: true,
      jsx: "react-jsx",
      strict: true,
      noUnusedLocals: true,
      noUnusedParameters: true,
      noFallthroughCasesInSwitch: true,
    },
    include: ["src"],
  },
  null,
  2,
)}\n`;

describe("a Vite + React 19 app (default configuration)", () => {
  let project: ConsumerProject;
  let server: ConsumerServer;
  let browser: Browser;

  beforeAll(async () => {
    project = await createConsumerProject("vite-react", {
      dependencies: [...SERVER_DEPENDENCIES, "lit", "react", "react-dom"],
      devDependencies: ["vite", "@vitejs/plugin-react", "typescript", "@types/react", "@types/react-dom"],
      files: {
        "index.html": INDEX_HTML,
        "vite.config.ts": VITE_CONFIG,
        "tsconfig.json": TSCONFIG,
        "src/main.tsx": MAIN_TSX,
        "src/App.tsx": APP_TSX,
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

  it("type-checks (tsc) and builds (vite build) with no decorator left in the bundle", { timeout: 120_000 }, async () => {
    await project.run("npx", ["tsc", "-p", "tsconfig.json"]);
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

  it("uploads in Chromium, hands the key to the React handler, and the saved form is committed", { timeout: 60_000 }, async () => {
    const saved = await uploadThroughPage(browser, server, `${server.url}/`, textFile(), {
      beforeSubmit: async (page, key) => {
        await expect.poll(() => page.locator("#uploaded-key").textContent()).toBe(key);
      },
    });
    expect(saved.key).toMatch(/^documents\//);
  });
});
