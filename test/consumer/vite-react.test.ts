// Consumer test (c): a Vite + React 19 app with Vite's default configuration (create-vite's react-ts
// template: `plugins: [react()]`, nothing else) renders <async-file-input> in a form, type-checks with
// the async-uploads/react typings and builds; the built app, served by the server of test (a), uploads
// a file in Chromium, the React handler of `async-upload-complete` sees the key, and the form's
// submission is committed. The page must report no errors (raw decorators in the bundle once gave a
// blank page).
import { describe, expect, it } from "vitest";
import { expectViteBuild, uploadSeenByHandler, useBrowserApp, viteTemplateFiles } from "./browser-app";
import { CONSUMER_ENDPOINT, CONSUMER_FIELD, CONSUMER_FORM_NAME, SERVER_DEPENDENCIES } from "./harness";

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
  const app = useBrowserApp("vite-react", {
    dependencies: [...SERVER_DEPENDENCIES, "lit", "react", "react-dom"],
    devDependencies: ["vite", "@vitejs/plugin-react", "typescript", "@types/react", "@types/react-dom"],
    files: {
      ...viteTemplateFiles({ title: "Vite + React + TS", rootId: "root", entry: "src/main.tsx", plugin: "react", pluginPackage: "@vitejs/plugin-react" }),
      "tsconfig.json": TSCONFIG,
      "src/main.tsx": MAIN_TSX,
      "src/App.tsx": APP_TSX,
    },
  });

  it("type-checks (tsc) and builds (vite build) with no decorator left in the bundle", { timeout: 120_000 }, async () => {
    await app.project.run("npx", ["tsc", "-p", "tsconfig.json"]);
    await expectViteBuild(app.project);
  });

  it("uploads in Chromium, hands the key to the React handler, and the saved form is committed", { timeout: 60_000 }, async () => {
    const saved = await uploadSeenByHandler(app);
    expect(saved.key).toMatch(/^documents\//);
  });
});
