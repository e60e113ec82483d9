import { and, eq } from "drizzle-orm";
import { AsyncUploadsError, type AsyncUploads, type CommitResult, type Database } from "async-uploads/server";
import { ATTACHMENT_FIELD, COVER_FIELD } from "./fields";
import type { FormBody } from "./form-body";
import { downloadUrl } from "./pages/documents";
import type { DocumentFormState, FileFieldState } from "./pages/document-form";
import { documents, type DocumentRow } from "./schema";
import { committedFileProblem, titleProblem } from "./stored-values";

/** The two upload fields of the form: form name, field id, and the document's columns. */
const FILE_FIELDS = [
  { name: "attachment", fieldId: ATTACHMENT_FIELD, key: "attachmentKey", fileName: "attachmentName", size: "attachmentSize" },
  { name: "cover", fieldId: COVER_FIELD, key: "coverKey", fileName: "coverName", size: "coverSize" },
] as const;
type FileFieldName = (typeof FILE_FIELDS)[number]["name"];

/** What the browser posted. A file field is `undefined` when the form did not carry it at all. */
export interface SubmittedDocument {
  title: string;
  files: Record<FileFieldName, string | string[] | undefined>;
  /** Fields that carried something other than text (a file posted through the form itself). */
  malformed: FileFieldName[];
}

/** Reads the posted form; never throws on odd input, it only records it. */
export function readSubmittedDocument(body: FormBody): SubmittedDocument {
  const title = body.title;
  const submitted: SubmittedDocument = {
    title: typeof title === "string" ? title.trim() : "",
    files: { attachment: undefined, cover: undefined },
    malformed: [],
  };
  for (const { name } of FILE_FIELDS) {
    const entry = body[name];
    if (entry === undefined) continue;
    const list = Array.isArray(entry) ? entry : [entry];
    if (list.some((item) => typeof item !== "string")) {
      submitted.malformed.push(name);
      continue;
    }
    const values = list as string[];
    submitted.files[name] = values.length === 1 ? values[0] : values;
  }
  return submitted;
}

export type SaveOutcome = { ok: true; id: string } | { ok: false; form: DocumentFormState } | { ok: false; notFound: true };

/** Thrown inside the transaction to roll it back when a field was refused; carries the messages. */
class FormRejected extends Error {
  constructor(readonly fieldErrors: Partial<Record<FileFieldName, string>>) {
    super("form rejected");
  }
}
class DocumentGone extends Error {}

export interface SaveContext {
  uploads: AsyncUploads;
  db: Database;
  principal: string;
}

/**
 * Saves a new document (`existingId` absent) or an edit: validates the title, then in ONE transaction
 * commits both upload fields and writes the row. A refused upload rolls everything back (commit's
 * copies are deleted by `uploads.transaction`) and the form comes back with a message on that field
 * and the other uploads kept.
 */
export async function saveDocument(context: SaveContext, submitted: SubmittedDocument, existingId?: string): Promise<SaveOutcome> {
  const { uploads, db, principal } = context;
  const titleError = titleProblem(submitted.title);
  const malformedErrors = Object.fromEntries(
    submitted.malformed.map((name) => [name, "Choose the file with the upload field; files cannot be posted with the form."]),
  ) as Partial<Record<FileFieldName, string>>;

  const existing = existingId === undefined ? undefined : await findOwnedDocument(db, existingId, principal);
  if (existingId !== undefined && !existing) return { ok: false, notFound: true };

  if (titleError || submitted.malformed.length > 0) {
    // Nothing is committed when the title is wrong; uploads are only looked up so the form can keep them.
    return { ok: false, form: await formState(context, submitted, existing, { title: titleError, ...malformedErrors }) };
  }

  const id = existing?.id ?? crypto.randomUUID();
  try {
    await uploads.transaction(async (tx, commit) => {
      // Locking the row makes a concurrent save of the same document wait, so `currentKey` is exact.
      const current = existing ? await findOwnedDocument(tx, id, principal, { lock: true }) : undefined;
      if (existing && !current) throw new DocumentGone();

      const results: Partial<Record<FileFieldName, CommitResult>> = {};
      const fieldErrors: Partial<Record<FileFieldName, string>> = {};
      for (const field of FILE_FIELDS) {
        const currentKey = current?.[field.key] ?? null;
        // A form without the field (no JavaScript, say) keeps the stored file rather than clearing it.
        const value = submitted.files[field.name] ?? currentKey ?? "";
        try {
          results[field.name] = await commit({ fieldId: field.fieldId, value, principal, instanceId: id, currentKey });
        } catch (error) {
          if (!(error instanceof AsyncUploadsError && error.code === "invalid_upload")) throw error;
          fieldErrors[field.name] = error.message;
        }
        // A file the library accepted may still hold a fact our columns cannot (a PNG claiming 3e9 pixels).
        const keepsDimensions = field.name === "cover";
        const unstorable = results[field.name]?.committed.map((file) => committedFileProblem(file, { keepsDimensions })).find(Boolean);
        if (unstorable) fieldErrors[field.name] = unstorable;
      }
      if (Object.keys(fieldErrors).length > 0) throw new FormRejected(fieldErrors);

      const columns = {
        title: submitted.title,
        ...fileColumns("attachment", results.attachment!, current),
        ...fileColumns("cover", results.cover!, current),
        updatedAt: new Date(),
      };
      if (current) {
        await tx.update(documents).set(columns).where(and(eq(documents.id, id), eq(documents.owner, principal)));
      } else {
        await tx.insert(documents).values({ id, owner: principal, ...columns });
      }
    });
  } catch (error) {
    if (error instanceof DocumentGone) return { ok: false, notFound: true };
    if (!(error instanceof FormRejected)) throw error;
    return { ok: false, form: await formState(context, submitted, existing, error.fieldErrors) };
  }
  return { ok: true, id };
}

/** Deletes a document and, after the transaction commits, its files (through commit with an empty value). */
export async function deleteDocument(context: SaveContext, id: string): Promise<boolean> {
  const { uploads, principal } = context;
  try {
    await uploads.transaction(async (tx, commit) => {
      const current = await findOwnedDocument(tx, id, principal, { lock: true });
      if (!current) throw new DocumentGone();
      for (const field of FILE_FIELDS) {
        await commit({ fieldId: field.fieldId, value: "", principal, instanceId: id, currentKey: current[field.key] });
      }
      await tx.delete(documents).where(eq(documents.id, id));
    });
  } catch (error) {
    if (error instanceof DocumentGone) return false;
    throw error;
  }
  return true;
}

/** The session's document with this id, or undefined (also for other sessions' documents). */
export async function findOwnedDocument(
  db: Database,
  id: string,
  principal: string,
  options: { lock?: boolean } = {},
): Promise<DocumentRow | undefined> {
  const query = db.select().from(documents).where(and(eq(documents.id, id), eq(documents.owner, principal)));
  const [row] = options.lock ? await query.for("update") : await query;
  return row;
}

/** The form state of a stored document, for the edit page. */
export function storedFormState(document: DocumentRow): DocumentFormState {
  const stored = (field: (typeof FILE_FIELDS)[number]): FileFieldState =>
    document[field.key]
      ? {
          value: document[field.key]!,
          filename: document[field.fileName] ?? undefined,
          size: document[field.size] ?? undefined,
          downloadUrl: downloadUrl(field.fieldId, document.id),
        }
      : { value: "" };
  return { id: document.id, title: document.title, attachment: stored(FILE_FIELDS[0]), cover: stored(FILE_FIELDS[1]), errors: {} };
}

/** The document's columns for one field after its commit: new files from the result, kept ones unchanged. */
function fileColumns(name: FileFieldName, result: CommitResult, current: DocumentRow | undefined) {
  const added = result.committed[0];
  const kept = result.key !== null && result.key === (name === "attachment" ? current?.attachmentKey : current?.coverKey);
  // A new file's facts come from commit, a kept file's from the row; a removed file has none.
  const pick = <T>(fromCommit: T | undefined, stored: T | null | undefined): T | null =>
    added ? (fromCommit ?? null) : kept ? (stored ?? null) : null;
  if (name === "attachment") {
    return {
      attachmentKey: result.key,
      attachmentName: pick(added?.filename, current?.attachmentName),
      attachmentSize: pick(added?.size, current?.attachmentSize),
      attachmentType: pick(added?.contentType, current?.attachmentType),
    };
  }
  return {
    coverKey: result.key,
    coverName: pick(added?.filename, current?.coverName),
    coverSize: pick(added?.size, current?.coverSize),
    coverType: pick(added?.contentType, current?.coverType),
    coverWidth: pick(added?.width, current?.coverWidth),
    coverHeight: pick(added?.height, current?.coverHeight),
  };
}

/**
 * The form to show again after a refused save. A field with an error falls back to the stored file (or
 * none); the others keep what was submitted: the stored file, or a pending upload of this session,
 * which is looked up so the component can show its name and size without uploading it again.
 */
async function formState(
  context: SaveContext,
  submitted: SubmittedDocument,
  existing: DocumentRow | undefined,
  errors: Partial<Record<FileFieldName | "title", string>>,
): Promise<DocumentFormState> {
  const stored = existing ? storedFormState(existing) : undefined;
  const state: DocumentFormState = {
    id: existing?.id,
    title: submitted.title,
    attachment: { value: "" },
    cover: { value: "" },
    errors: { title: errors.title },
  };
  for (const field of FILE_FIELDS) {
    const fallback: FileFieldState = stored?.[field.name] ?? { value: "" };
    const error = errors[field.name];
    const value = submitted.files[field.name];
    if (error !== undefined) {
      state[field.name] = { ...fallback, error };
    } else if (value === undefined || value === fallback.value) {
      state[field.name] = fallback;
    } else if (typeof value !== "string") {
      state[field.name] = { ...fallback, error: "This field holds one file only." };
    } else if (value === "") {
      state[field.name] = { value: "" };
    } else {
      const pending = await context.uploads.findPendingUpload({ fieldId: field.fieldId, key: value, principal: context.principal, instanceId: existing?.id });
      state[field.name] = pending
        ? { value, filename: pending.filename, size: pending.size }
        : { ...fallback, error: "This upload cannot be used here. Please choose the file again." };
    }
  }
  return state;
}
