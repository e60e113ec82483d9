import { adoptStyles, html, type LitElement, type TemplateResult } from "lit";
import { repeat } from "lit/directives/repeat.js";
import { rowStyles } from "./file-list.styles.js";
import { renderFileRow, storedEntry, type RowOptions } from "./file-row.js";
import { rowStrings } from "./row-strings.js";
import { addDefaultStrings } from "./strings.js";
import { UploadList } from "./upload-list.js";

/**
 * The file list's chunk (`import()` by `lazy-file-list.ts`): the rows, their styles and strings, and the
 * upload list with everything it starts. A page whose field never holds a file does not download it. Lit, the
 * strings and the events come from the element's own file (see `shareWithElement` in client/build.ts).
 */
export { storedEntry, UploadList };

// The rows' strings (the element's file has only those of the empty field): before any row renders.
addDefaultStrings(rowStrings);

/** Shadow roots that have the rows' styles. */
const styled = new WeakSet<ShadowRoot>();

/** The list of rows, keyed by entry so that a row keeps its DOM (and focus, and thumbnail) as others come and go. */
export function renderFileList(host: LitElement, list: UploadList, options: RowOptions): TemplateResult {
  // The rows' styles join the element's own (after them) before the first row is committed.
  const root = host.shadowRoot;
  if (root && !styled.has(root)) {
    styled.add(root);
    adoptStyles(root, [...(host.constructor as typeof LitElement).elementStyles, rowStyles]);
  }
  return html`<ul part="file-list" class="files" role="list">
    ${repeat(list.entries, (entry) => entry.id, (entry) => renderFileRow(entry, options))}
  </ul>`;
}
