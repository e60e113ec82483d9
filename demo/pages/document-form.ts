import { html } from "hono/html";
import { ATTACHMENT_FIELD, ATTACHMENT_MAX_SIZE, COVER_ACCEPT, COVER_FIELD, COVER_MAX_SIZE } from "../fields";
import { UPLOADS_BASE } from "./documents";
import { layout, type Html } from "./layout";

/** What one upload field shows: the form value and, when it names a file, that file's name and size. */
export interface FileFieldState {
  /** A committed key (kept), a pending temp key (uploaded, not saved yet), or "" (no file). */
  value: string;
  filename?: string;
  size?: number;
  /** Only for committed files: the download route. */
  downloadUrl?: string;
  error?: string;
}

export interface DocumentFormState {
  /** Absent for a new document. */
  id?: string;
  title: string;
  attachment: FileFieldState;
  cover: FileFieldState;
  errors: { title?: string; form?: string };
}

export const TITLE_MAX_LENGTH = 200;

/** `GET /documents/new`, `GET /documents/{id}/edit`, and either form re-rendered with its errors. */
export function documentFormPage(state: DocumentFormState): Html {
  const heading = state.id ? "Edit document" : "New document";
  const action = state.id ? `/documents/${state.id}` : "/documents";
  const fieldErrors = [
    { target: "title", label: "Title", message: state.errors.title },
    { target: "attachment-input", label: "Attachment", message: state.attachment.error },
    { target: "cover-input", label: "Cover image", message: state.cover.error },
  ].filter((error) => error.message !== undefined);
  return layout(
    heading,
    html`<h1>${heading}</h1>
      ${state.errors.form || fieldErrors.length > 0
        ? html`<div class="error-summary" role="alert" tabindex="-1" id="error-summary">
            <p class="error">${state.errors.form ?? "The document was not saved."}</p>
            ${fieldErrors.length > 0
              ? html`<ul>${fieldErrors.map((error) => html`<li><a href="#${error.target}">${error.label}: ${error.message}</a></li>`)}</ul>`
              : ""}
          </div>`
        : ""}
      <form method="post" action="${action}">
        <div>
          <label for="title">Title</label>
          <input
            type="text"
            id="title"
            name="title"
            required
            maxlength="${TITLE_MAX_LENGTH}"
            value="${state.title}"
            ${state.errors.title ? html`aria-invalid="true" aria-describedby="title-error"` : ""}
          />
          ${state.errors.title ? html`<p class="error" id="title-error">${state.errors.title}</p>` : ""}
        </div>
        ${fileField({
          name: "attachment",
          label: "Attachment",
          fieldId: ATTACHMENT_FIELD,
          maxSize: ATTACHMENT_MAX_SIZE,
          instanceId: state.id,
          state: state.attachment,
        })}
        ${fileField({
          name: "cover",
          label: "Cover image",
          fieldId: COVER_FIELD,
          accept: COVER_ACCEPT.join(","),
          maxSize: COVER_MAX_SIZE,
          instanceId: state.id,
          state: state.cover,
        })}
        <div class="actions">
          <button type="submit">Save</button>
          <a href="${state.id ? `/documents/${state.id}` : "/"}">Cancel</a>
        </div>
      </form>`,
    { withComponent: true },
  );
}

interface FileFieldOptions {
  name: string;
  label: string;
  fieldId: string;
  accept?: string;
  maxSize: number;
  instanceId?: string;
  state: FileFieldState;
}

/**
 * One `<async-file-input>` with its label and (after a failed save) its error. The component is
 * form-associated, so `<label for>` names it, and it states the accepted types and size itself. The error
 * goes in its `error` attribute, so that it goes once the person chooses another file; the same words
 * stand under it only without JavaScript.
 */
function fileField(options: FileFieldOptions): Html {
  const { name, state } = options;
  return html`<div class="field" data-field="${name}">
    <label for="${name}-input">${options.label}</label>
    <async-file-input
      id="${name}-input"
      name="${name}"
      field-id="${options.fieldId}"
      endpoint="${UPLOADS_BASE}"
      max-size="${options.maxSize}"
      ${options.accept ? html`accept="${options.accept}"` : ""}
      ${options.instanceId ? html`instance-id="${options.instanceId}"` : ""}
      ${state.value ? html`value="${state.value}"` : ""}
      ${state.value && state.filename ? html`filename="${state.filename}"` : ""}
      ${state.value && state.size !== undefined ? html`size="${state.size}"` : ""}
      ${state.value && state.downloadUrl ? html`download-url="${state.downloadUrl}"` : ""}
      ${state.error ? html`error="${state.error}"` : ""}
    ></async-file-input>
    ${state.error ? html`<noscript><p class="error" id="${name}-error">${state.error}</p></noscript>` : ""}
  </div>`;
}
