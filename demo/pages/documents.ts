import { html } from "hono/html";
import { formatBytes } from "async-uploads/shared";
import { ATTACHMENT_FIELD, COVER_FIELD } from "../fields";
import type { DocumentRow } from "../schema";
import { DOCUMENTS_EXPORT, MAX_SAMPLES, SERVE_NOW_MAX_ROWS } from "../exports";
import { layout, UPLOADS_BASE, type Html } from "./layout";

export { UPLOADS_BASE };

/** The list page shows at most this many documents (the newest); the CSV export has them all. */
export const LIST_LIMIT = 100;

/** The download route of one field of a document (it checks the session, then redirects to a signed URL). */
export function downloadUrl(fieldId: string, documentId: string): string {
  return `${UPLOADS_BASE}/download/${encodeURIComponent(fieldId)}/${encodeURIComponent(documentId)}`;
}

function fileSummary(name: string | null, size: number | null): string {
  return name === null ? "" : `${name} (${formatBytes(size ?? 0)})`;
}

function thumbnail(document: DocumentRow): Html {
  return document.coverKey
    ? html`<img class="thumb" src="${downloadUrl(COVER_FIELD, document.id)}" alt="" loading="lazy" />`
    : html`<span class="thumb" aria-hidden="true"></span>`;
}

/** `GET /`: the session's newest documents (`total` in all), the CSV export and, in development, the sample-rows form. */
export function documentListPage(rows: readonly DocumentRow[], total = rows.length, options: { samples?: boolean } = {}): Html {
  const items = rows.map(
    (document) => html`<li>
      ${thumbnail(document)}
      <div>
        <a href="/documents/${document.id}">${document.title}</a>
        <div class="meta">${document.attachmentName ? fileSummary(document.attachmentName, document.attachmentSize) : "No attachment"}</div>
      </div>
    </li>`,
  );
  return layout(
    "Documents",
    html`<h1>Documents</h1>
      <p><a href="/documents/new">New document</a></p>
      ${rows.length === 0
        ? html`<p>No documents yet. Create one: its files upload while you type the title.</p>`
        : html`<ul class="documents">${items}</ul>`}
      ${total > rows.length ? html`<p class="meta">Showing the newest ${rows.length} of ${total} documents.</p>` : ""}
      <h2>Export</h2>
      <p>
        <async-export-button export-id="${DOCUMENTS_EXPORT}" endpoint="${UPLOADS_BASE}">Export all documents as CSV</async-export-button>
      </p>
      <p class="hint">Up to ${SERVE_NOW_MAX_ROWS} documents download at once; more are prepared in the background and appear in Downloads, at the top of the page.</p>
      ${options.samples
        ? html`<form method="post" action="/documents/samples" class="actions">
            <label for="sample-count">Sample documents to add</label>
            <input id="sample-count" name="count" type="number" min="1" max="${MAX_SAMPLES}" value="20000" required />
            <button type="submit">Add samples</button>
          </form>
          <p class="hint">Development only: enough rows to watch an export's progress (200,000 take about 20 s to export).</p>`
        : ""}`,
  );
}

/** `GET /documents/{id}`: one document with download links through the download route. */
export function documentPage(document: DocumentRow, notice?: string): Html {
  return layout(
    document.title,
    html`${notice ? html`<p role="status">${notice}</p>` : ""}
      <h1>${document.title}</h1>
      ${document.coverKey
        ? html`<p><img class="cover" src="${downloadUrl(COVER_FIELD, document.id)}" alt="Cover of ${document.title}" /></p>`
        : ""}
      <dl>
        <dt>Attachment</dt>
        <dd>
          ${document.attachmentKey
            ? html`<a href="${downloadUrl(ATTACHMENT_FIELD, document.id)}" data-testid="attachment-download"
                >${fileSummary(document.attachmentName, document.attachmentSize)}</a
              >`
            : "None"}
        </dd>
        <dt>Cover</dt>
        <dd>
          ${document.coverKey
            ? html`<a href="${downloadUrl(COVER_FIELD, document.id)}" data-testid="cover-download"
                >${fileSummary(document.coverName, document.coverSize)}</a
              >${document.coverWidth && document.coverHeight ? ` · ${document.coverWidth}×${document.coverHeight}` : ""}`
            : "None"}
        </dd>
        <dt>Updated</dt>
        <dd>${document.updatedAt.toISOString().replace("T", " ").slice(0, 16)} UTC</dd>
      </dl>
      <div class="actions">
        <a href="/documents/${document.id}/edit">Edit</a>
        <a href="/documents/${document.id}/delete" class="danger">Delete</a>
      </div>`,
  );
}

/**
 * `GET /documents/{id}/delete`: asks before deleting. A page of its own rather than `confirm()`, so that
 * the question is asked without JavaScript too, and the post stays a plain form.
 */
export function deleteConfirmationPage(document: DocumentRow): Html {
  const files = [document.attachmentName, document.coverName].filter((name) => name !== null);
  return layout(
    `Delete ${document.title}?`,
    html`<h1>Delete “${document.title}”?</h1>
      <p>
        ${files.length > 0 ? html`Its files (${files.join(", ")}) are deleted with it. ` : ""}This cannot be undone.
      </p>
      <form method="post" action="/documents/${document.id}/delete" class="actions">
        <button type="submit" class="danger">Delete</button>
        <a href="/documents/${document.id}">Cancel</a>
      </form>`,
  );
}

/** The page for an unknown document or route. */
export function notFoundPage(): Html {
  return layout("Not found", html`<h1>Not found</h1><p>There is no such page or document. <a href="/">Back to the documents</a></p>`);
}

/** The page for an unexpected failure; details go to the server log, never to the browser. */
export function serverErrorPage(): Html {
  return layout("Something went wrong", html`<h1>Something went wrong</h1><p>Please try again. <a href="/">Back to the documents</a></p>`);
}

/** The page for a form post refused by the cross-site check. */
export function forbiddenPage(): Html {
  return layout("Forbidden", html`<h1>Forbidden</h1><p>This form was sent from another site. <a href="/">Back to the documents</a></p>`);
}

/** The page for a request refused before any form was read (a body that is not a form, or too large): says why. */
export function requestRefusedPage(message: string): Html {
  return layout("Request refused", html`<h1>Request refused</h1><p>${message}</p><p><a href="/">Back to the documents</a></p>`);
}
