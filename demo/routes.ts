import { count, desc, eq } from "drizzle-orm";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { settleRequestBody, type AsyncUploads, type Database } from "async-uploads/server";
import { addSampleDocuments, MAX_SAMPLES } from "./exports";
import { isDocumentId } from "./fields";
import { readFormBody } from "./form-body";
import { sameOriginWrites } from "./same-origin";
import { documentFormPage } from "./pages/document-form";
import { deleteConfirmationPage, documentListPage, documentPage, LIST_LIMIT, notFoundPage } from "./pages/documents";
import { deleteDocument, findOwnedDocument, readSubmittedDocument, saveDocument, storedFormState } from "./save-document";
import type { Html } from "./pages/layout";
import { documents, type DocumentRow } from "./schema";
import { anonymousSession, type SessionVariables } from "./session";

/** A form post carries a title and two keys; anything this large is not from our form. */
const MAX_FORM_BYTES = 64 * 1024;

export interface DocumentRoutesDeps {
  db: Database;
  uploads: AsyncUploads;
  /** Key that signs the session cookie. */
  sessionKey: string;
  /** `POST /documents/samples` and its form (many rows for the CSV export). @default NODE_ENV !== "production" */
  samples?: boolean;
}

/** The demo's pages: list, new/edit forms, save, show and delete, all scoped to the visitor's session. */
export function documentRoutes({ db, uploads, sessionKey, samples = process.env.NODE_ENV !== "production" }: DocumentRoutesDeps): Hono<{ Variables: SessionVariables }> {
  const app = new Hono<{ Variables: SessionVariables }>();
  // Scoped to the pages' own paths: mounted at "/", a "*" here would also match the uploads routes.
  for (const path of ["/", "/documents/*"]) {
    // First: whatever refuses the request below (origin, size, an unreadable form), its body is read to
    // the end or the answer says Connection: close, so the keep-alive connection takes the next request.
    app.use(path, settleRequestBody);
    app.use(path, anonymousSession(sessionKey));
    // Posts must come from our own pages (Origin / Sec-Fetch-Site), whatever their body, on top of the SameSite cookie.
    app.use(path, sameOriginWrites());
    app.use(
      path,
      bodyLimit({
        maxSize: MAX_FORM_BYTES,
        onError: () => {
          throw new HTTPException(413, { message: "The form is too large." });
        },
      }),
    );
  }
  const saveContext = (session: string) => ({ uploads, db, principal: session });

  app.get("/", async (c) => {
    const owned = eq(documents.owner, c.get("session"));
    const [rows, [counted]] = await Promise.all([
      db.select().from(documents).where(owned).orderBy(desc(documents.createdAt)).limit(LIST_LIMIT),
      db.select({ total: count() }).from(documents).where(owned),
    ]);
    return c.html(documentListPage(rows, counted?.total ?? rows.length, { samples }));
  });

  app.get("/documents/new", (c) =>
    c.html(documentFormPage({ title: "", attachment: { value: "" }, cover: { value: "" }, errors: {} })),
  );

  app.post("/documents", async (c) => {
    const submitted = readSubmittedDocument(await readFormBody(c));
    const outcome = await saveDocument(saveContext(c.get("session")), submitted);
    if (outcome.ok) return c.redirect(`/documents/${outcome.id}`, 303);
    return "form" in outcome ? c.html(documentFormPage(outcome.form), 422) : c.html(notFoundPage(), 404);
  });

  if (samples) {
    app.post("/documents/samples", async (c) => {
      const value = (await readFormBody(c)).count;
      const wanted = typeof value === "string" && /^\d{1,6}$/.test(value.trim()) ? Number(value) : NaN;
      if (!(wanted >= 1 && wanted <= MAX_SAMPLES)) throw new HTTPException(400, { message: `Add from 1 to ${MAX_SAMPLES} sample documents.` });
      await addSampleDocuments(db, c.get("session"), wanted);
      return c.redirect("/", 303);
    });
  }

  // A page about one of the session's documents; any other id (another session's too) is not found.
  for (const [path, page] of [
    ["/documents/:id", documentPage],
    ["/documents/:id/edit", (document) => documentFormPage(storedFormState(document))],
    ["/documents/:id/delete", deleteConfirmationPage],
  ] as const satisfies ReadonlyArray<readonly [string, (document: DocumentRow) => Html]>) {
    app.get(path, async (c) => {
      const id = c.req.param("id");
      const document = isDocumentId(id) ? await findOwnedDocument(db, id, c.get("session")) : undefined;
      return document ? c.html(page(document)) : c.html(notFoundPage(), 404);
    });
  }

  app.post("/documents/:id", async (c) => {
    const submitted = readSubmittedDocument(await readFormBody(c));
    const id = c.req.param("id");
    if (!isDocumentId(id)) return c.html(notFoundPage(), 404);
    const outcome = await saveDocument(saveContext(c.get("session")), submitted, id);
    if (outcome.ok) return c.redirect(`/documents/${outcome.id}`, 303);
    return "form" in outcome ? c.html(documentFormPage(outcome.form), 422) : c.html(notFoundPage(), 404);
  });

  app.post("/documents/:id/delete", async (c) => {
    // The confirmation form posts no fields, but a body that is not a form is refused here as elsewhere.
    await readFormBody(c);
    const id = c.req.param("id");
    const deleted = isDocumentId(id) && (await deleteDocument(saveContext(c.get("session")), id));
    return deleted ? c.redirect("/", 303) : c.html(notFoundPage(), 404);
  });

  return app;
}
