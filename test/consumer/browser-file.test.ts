// Consumer test (e): a plain HTML page, no build step, loads the browser file shipped in the package
// (resolved through the package's `exports`, as a server copying it into its static files would) and,
// in Chromium, uploads a file and submits the form to the server of test (a). Also the file without
// Lit, with an import map to the app's own copy of lit.
import { describe, expect, it } from "vitest";
import { copyFile, cp, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { useBrowserApp } from "./browser-app";
import {
  CONSUMER_ENDPOINT,
  CONSUMER_FIELD,
  CONSUMER_FORM_NAME,
  SERVER_DEPENDENCIES,
  textFile,
  uploadThroughPage,
  type ConsumerProject,
} from "./harness";

/** The app's own lit, for the file without Lit: what its bare imports resolve to in the browser. */
const LIT_IMPORT_MAP = {
  imports: {
    lit: "/node_modules/lit/index.js",
    "lit/": "/node_modules/lit/",
    "lit-html": "/node_modules/lit-html/lit-html.js",
    "lit-html/": "/node_modules/lit-html/",
    "lit-element/": "/node_modules/lit-element/",
    "@lit/reactive-element": "/node_modules/@lit/reactive-element/reactive-element.js",
    "@lit/reactive-element/": "/node_modules/@lit/reactive-element/",
  },
};

function page(script: string, head = ""): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Plain page</title>
  ${head}
  <script type="module" src="${script}"></script>
</head>
<body>
  <form method="post" action="/save">
    <label for="file">Notes</label>
    <async-file-input id="file" name="${CONSUMER_FORM_NAME}" field-id="${CONSUMER_FIELD}" endpoint="${CONSUMER_ENDPOINT}"></async-file-input>
    <button type="submit">Save</button>
  </form>
</body>
</html>
`;
}

describe("a plain HTML page with the shipped browser file", () => {
  // The whole project is served so the import map reaches node_modules/lit; the pages live in site/.
  const app = useBrowserApp("browser-file", {
    // lit only for the page that uses the file without Lit; the other page needs nothing but the file.
    dependencies: [...SERVER_DEPENDENCIES, "lit"],
    staticDir: ".",
    setupTimeoutMs: 240_000,
    async prepare(project) {
      const site = join(project.dir, "site");
      await mkdir(site);
      for (const file of ["async-file-input.js", "async-file-input.no-lit.js"]) {
        await copyFile(await resolveInProject(project, `async-uploads/browser/${file}`), join(site, file));
      }
      // The chunks the files load when needed (the upload engine, …), copied as a site would: the folder beside them.
      const browserDir = dirname(await resolveInProject(project, "async-uploads/browser/async-file-input.js"));
      await cp(join(browserDir, "chunks"), join(site, "chunks"), { recursive: true });
      await writeFile(join(site, "index.html"), page("/site/async-file-input.js"));
      const importMap = `<script type="importmap">${JSON.stringify(LIT_IMPORT_MAP)}</script>`;
      await writeFile(join(site, "no-lit.html"), page("/site/async-file-input.no-lit.js", importMap));
    },
  });

  it("uploads a file in Chromium and the form's save commits it", async () => {
    const saved = await uploadThroughPage(app.browser, app.server, `${app.server.url}/site/`, textFile("plain-page.txt"));
    expect(saved.filename).toBe("plain-page.txt");
  });

  it("does the same with the file without Lit and the app's own lit", async () => {
    const saved = await uploadThroughPage(app.browser, app.server, `${app.server.url}/site/no-lit.html`, textFile("no-lit-page.txt"));
    expect(saved.filename).toBe("no-lit-page.txt");
  });
});

/** Where `specifier` resolves from the project's own code (through the package's `exports` map). */
async function resolveInProject(project: ConsumerProject, specifier: string): Promise<string> {
  const { stdout } = await project.run("node", ["--input-type=module", "-e", `console.log(import.meta.resolve(${JSON.stringify(specifier)}))`]);
  const path = fileURLToPath(stdout.trim());
  expect(path.startsWith(join(project.dir, "node_modules", "async-uploads") + "/"), path).toBe(true);
  return path;
}
