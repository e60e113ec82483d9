import { html, raw } from "hono/html";

/** What every page function returns; `html` escapes every interpolated value that is not itself `html`. */
export type Html = ReturnType<typeof html>;

/** Where the demo serves the built `<async-file-input>` component. */
export const COMPONENT_SCRIPT_PATH = "/assets/async-file-input.js";
/** Where the demo serves the built download centre (`<async-download-centre>`, `<async-export-button>`), on every page. */
export const CENTRE_SCRIPT_PATH = "/assets/async-download-centre.js";
/** Where the demo mounts the async-uploads routes. */
export const UPLOADS_BASE = "/async-uploads";

const STYLES = `
  :root { font-family: system-ui, sans-serif; line-height: 1.5; }
  body { max-width: 46rem; margin: 0 auto; padding: 1.5rem; }
  header { display: flex; justify-content: space-between; align-items: center; gap: 1rem; border-bottom: 1px solid #8884; margin-bottom: 1.5rem; padding-bottom: .5rem; }
  header .meta { margin-inline-start: auto; }
  header a { text-decoration: none; color: inherit; font-weight: 600; }
  .documents { list-style: none; padding: 0; display: grid; gap: .75rem; }
  .documents li { display: flex; gap: 1rem; align-items: center; padding: .75rem; border: 1px solid #8884; border-radius: .5rem; }
  .thumb { width: 4rem; height: 4rem; object-fit: cover; border-radius: .25rem; background: #8882; flex: none; }
  .meta { color: #595959; font-size: .9rem; }
  form { display: grid; gap: 1.25rem; }
  label, .label { font-weight: 600; display: block; margin-bottom: .25rem; }
  input[type=text] { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; }
  .hint { color: #595959; font-size: .85rem; margin: .25rem 0 0; }
  .error { color: #c62828; font-weight: 600; margin: .25rem 0 0; }
  .error-summary { border: 2px solid #c62828; padding: .75rem 1rem; border-radius: .5rem; }
  .actions { display: flex; gap: 1rem; align-items: center; }
  button { font: inherit; padding: .5rem 1.25rem; cursor: pointer; }
  .danger { color: #c62828; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .5rem 1rem; }
  dt { font-weight: 600; }
  dd { margin: 0; }
  .cover { max-width: 100%; max-height: 20rem; border-radius: .5rem; }
`;

/**
 * The page shell. `withComponent` loads the upload component (form pages only); the download centre is
 * in every page's header (its own bundle, so the form pages load both and the others only the centre).
 */
export function layout(title: string, body: Html, options: { withComponent?: boolean } = {}): Html {
  return html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${title} · async-uploads demo</title>
    <!-- No icon: without this line every page makes the browser ask for a /favicon.ico that is not there. -->
    <link rel="icon" href="data:," />
    <style>${raw(STYLES)}</style>
    ${options.withComponent ? html`<script type="module" src="${COMPONENT_SCRIPT_PATH}"></script>` : ""}
    <script type="module" src="${CENTRE_SCRIPT_PATH}"></script>
  </head>
  <body>
    <header>
      <a href="/">Documents</a><span class="meta">async-uploads demo</span>
      <async-download-centre endpoint="${UPLOADS_BASE}"></async-download-centre>
    </header>
    <main>${body}</main>
  </body>
</html>`;
}
