import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ATTACHMENT_FIELD, COVER_FIELD } from "../../../demo/fields";
import { documents } from "../../../demo/schema";
import { GREYSCALE, encodePng } from "../../helpers/sample-files";
import { BACKENDS, PDF_BYTES, PNG_1x1, Visitor, componentValue, fieldError, startDemo, type DemoServer } from "./harness";

/**
 * The form's bad-input cases over plain HTTP against the running demo, for every backend: whatever a
 * client posts, the form comes back with a message on the field, nothing is saved and no file reaches
 * a final key.
 */
describe.each(BACKENDS)("demo app, bad input (%s)", (backend) => {
  let server: DemoServer;
  let alice: Visitor;
  let bob: Visitor;

  beforeAll(async () => {
    server = await startDemo(backend);
    alice = await new Visitor(server).start();
    bob = await new Visitor(server).start();
  });
  afterAll(async () => {
    await server?.close();
  });

  /** Keys outside the temp prefix: where committed files live. */
  const finalKeys = async () => (await server.listKeys()).filter((key) => !key.startsWith("async-temp/"));

  /** Nothing saved: no document rows and no object outside the temp prefix. */
  async function expectNothingSaved(): Promise<void> {
    expect(await server.db.select().from(documents)).toEqual([]);
    expect(await finalKeys()).toEqual([]);
  }

  async function postNew(visitor: Visitor, fields: Record<string, string>) {
    const response = await visitor.postForm("/documents", { title: "A title", attachment: "", cover: "", ...fields });
    return { status: response.status, page: await response.text() };
  }

  it("refuses a key uploaded by another session", async () => {
    const key = await alice.uploadFile(ATTACHMENT_FIELD, "report.pdf", "application/pdf", PDF_BYTES);
    const { status, page } = await postNew(bob, { attachment: key });
    expect(status).toBe(422);
    expect(fieldError(page, "attachment")).toMatch(/cannot be used here/);
    expect(componentValue(page, "attachment")).toBe("");
    await expectNothingSaved();
  });

  it("refuses a key of the other field", async () => {
    const key = await alice.uploadFile(COVER_FIELD, "cover.png", "image/png", PNG_1x1);
    const { status, page } = await postNew(alice, { attachment: key });
    expect(status).toBe(422);
    expect(fieldError(page, "attachment")).toMatch(/cannot be used here/);
    await expectNothingSaved();
  });

  it("refuses a made-up key", async () => {
    const { status, page } = await postNew(alice, { cover: `async-temp/2024/01/01/${crypto.randomUUID()}/cover.png` });
    expect(status).toBe(422);
    expect(fieldError(page, "cover")).toMatch(/cannot be used here/);
    await expectNothingSaved();
  });

  it("refuses a key whose object was never uploaded", async () => {
    const target = await alice.issue({ fieldId: ATTACHMENT_FIELD, filename: "never.pdf", contentType: "application/pdf", size: 10 });
    const { status, page } = await postNew(alice, { attachment: target.key });
    expect(status).toBe(422);
    expect(fieldError(page, "attachment")).toMatch(/did not finish uploading/);
    await expectNothingSaved();
  });

  it("refuses an object larger than announced, however the storage took it", async () => {
    const target = await alice.issue({ fieldId: COVER_FIELD, filename: "big.png", contentType: "image/png", size: PNG_1x1.byteLength });
    const bigger = new Uint8Array(PNG_1x1.byteLength + 4096);
    bigger.set(PNG_1x1);
    // S3 (policy) and the filesystem route refuse the body; Azure SAS URLs cannot pin a size and take it.
    await alice.upload(target, bigger, "image/png");
    const { status, page } = await postNew(alice, { cover: target.key });
    expect(status).toBe(422);
    expect(fieldError(page, "cover")).toMatch(/not the file that was announced|did not finish uploading/);
    await expectNothingSaved();
  });

  it("refuses a cover whose bytes are not an image, keeping the valid attachment in the form", async () => {
    const attachment = await alice.uploadFile(ATTACHMENT_FIELD, "notes.pdf", "application/pdf", PDF_BYTES);
    const cover = await alice.uploadFile(COVER_FIELD, "cover.png", "image/png", PDF_BYTES);
    const { status, page } = await postNew(alice, { attachment, cover });
    expect(status).toBe(422);
    expect(fieldError(page, "cover")).toMatch(/application\/pdf\) is not accepted/);
    expect(fieldError(page, "attachment")).toBeNull();
    expect(componentValue(page, "attachment")).toBe(attachment);
    expect(page).toContain('filename="notes.pdf"');
    // The attachment was copied inside the rolled-back transaction; the copy is gone, the temp kept.
    await expectNothingSaved();
    expect(await server.listKeys()).toContain(attachment);
    expect(await server.listKeys()).not.toContain(cover);
  });

  it("answers odd bytes in any field with the form, never a server error", async () => {
    const cases: Array<Record<string, string>> = [
      { title: "a\u0000b" },
      { title: "", attachment: "async-temp/x\u0000" },
      { title: "x", attachment: "async-temp/\u0000" },
      { title: "x", cover: "\ud800" },
    ];
    for (const fields of cases) {
      const { status, page } = await postNew(alice, fields);
      expect(status, JSON.stringify(fields)).toBe(422);
      expect(page).toContain("The document was not saved.");
    }
    const twice = await alice.fetch("/documents", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "title=x&attachment=a&attachment=b",
    });
    expect(twice.status).toBe(422);
    expect(fieldError(await twice.text(), "attachment")).toMatch(/one file only/);
    // The bytes themselves posted with the form (no JavaScript, or a hand-made client): refused, not stored.
    const multipart = new FormData();
    multipart.append("title", "x");
    multipart.append("attachment", new Blob([PDF_BYTES], { type: "application/pdf" }), "a.pdf");
    const posted = await alice.fetch("/documents", { method: "POST", body: multipart });
    expect(posted.status).toBe(422);
    expect(fieldError(await posted.text(), "attachment")).toMatch(/Choose the file with the upload field/);
    await expectNothingSaved();
  });

  it("refuses a cover whose header declares dimensions no column or page can hold, as a form error", async () => {
    // A PNG may state up to 2^32-1 pixels a side; a few bytes of data are enough to claim it.
    for (const [width, height] of [[3_000_000_000, 1], [1, 2 ** 32 - 1], [70_000, 70_000]] as const) {
      const png = encodePng(width, height, GREYSCALE, Uint8Array.of(0, 0));
      const cover = await alice.uploadFile(COVER_FIELD, "huge.png", "image/png", png);
      const { status, page } = await postNew(alice, { cover });
      expect(status, `${width}x${height}`).toBe(422);
      expect(fieldError(page, "cover")).toMatch(/at most 65535 pixels/);
      await expectNothingSaved();
    }
    // The attachment keeps no dimensions, so the same file is a fine attachment.
    const png = encodePng(3_000_000_000, 1, GREYSCALE, Uint8Array.of(0, 0));
    const attachment = await alice.uploadFile(ATTACHMENT_FIELD, "huge.png", "image/png", png);
    const saved = await alice.postForm("/documents", { title: "Huge", attachment, cover: "" });
    expect(saved.status).toBe(303);
    const id = saved.headers.get("location")!.split("/").pop()!;
    expect((await alice.postForm(`/documents/${id}/delete`, {})).status).toBe(303);
    await expectNothingSaved();
  });

  it("keeps the uploads when the title is missing, and saves them on the next post", async () => {
    const attachment = await alice.uploadFile(ATTACHMENT_FIELD, "plan.pdf", "application/pdf", PDF_BYTES);
    const { status, page } = await postNew(alice, { title: "  ", attachment });
    expect(status).toBe(422);
    expect(fieldError(page, "title")).toBe("Enter a title.");
    expect(componentValue(page, "attachment")).toBe(attachment);
    await expectNothingSaved();

    const saved = await alice.postForm("/documents", { title: "Plan", attachment, cover: "" });
    expect(saved.status).toBe(303);
    const location = saved.headers.get("location")!;
    expect(location).toMatch(/^\/documents\/[0-9a-f-]{36}$/);
    const [row] = await server.db.select().from(documents);
    expect(row).toMatchObject({ title: "Plan", owner: expect.any(String), attachmentName: "plan.pdf", attachmentSize: PDF_BYTES.byteLength });
    expect(await finalKeys()).toEqual([row!.attachmentKey]);
    // The temp object went once the transaction committed.
    expect(await server.listKeys()).not.toContain(attachment);

    // Another session cannot see, edit, download or delete it.
    const id = location.split("/").pop()!;
    expect((await bob.fetch(`/documents/${id}`)).status).toBe(404);
    expect((await bob.fetch(`/documents/${id}/edit`)).status).toBe(404);
    expect((await bob.fetch(`/documents/${id}/delete`)).status).toBe(404);
    expect((await bob.fetch(`/async-uploads/download/${ATTACHMENT_FIELD}/${id}`)).status).toBe(403);
    expect((await bob.postForm(`/documents/${id}`, { title: "Mine now", attachment: "", cover: "" })).status).toBe(404);
    expect((await bob.postForm(`/documents/${id}/delete`, {})).status).toBe(404);
    expect(await finalKeys()).toEqual([row!.attachmentKey]);

    const deleted = await alice.postForm(`/documents/${id}/delete`, {});
    expect(deleted.status).toBe(303);
    await expectNothingSaved();
  });
});

describe("demo app, pages and session (filesystem)", () => {
  let server: DemoServer;
  beforeAll(async () => {
    server = await startDemo("filesystem");
  });
  afterAll(async () => {
    await server?.close();
  });

  it("declares its icon on every page, so that no browser asks for a /favicon.ico that is not there", async () => {
    // Chromium asks for /favicon.ico after every page that names no icon of its own.
    const visitor = await new Visitor(server).start();
    for (const path of ["/", "/documents/new", "/nowhere"]) {
      expect(await (await visitor.fetch(path)).text(), path).toContain('<link rel="icon" href="data:," />');
    }
  });

  it("answers unknown documents and paths with a 404 page", async () => {
    const visitor = await new Visitor(server).start();
    const id = crypto.randomUUID();
    for (const path of [`/documents/${id}`, `/documents/${id}/edit`, `/documents/${id}/delete`, "/documents/not-a-uuid", "/documents/1'--/edit", "/nowhere"]) {
      const response = await visitor.fetch(path);
      expect(response.status, path).toBe(404);
      expect(await response.text(), path).toContain("<h1>Not found</h1>");
    }
    for (const path of [`/documents/${id}`, `/documents/${id}/delete`, "/documents/x/delete"]) {
      const response = await visitor.postForm(path, { title: "x" });
      expect(response.status, path).toBe(404);
      expect(await response.text(), path).toContain("<h1>Not found</h1>");
    }
    const api = await visitor.fetch("/async-uploads/nowhere");
    expect(api.status).toBe(404);
    expect(await api.json()).toEqual({ error: { code: "not_found", message: expect.any(String) } });
  });

  it("gives a signed, HttpOnly, SameSite=Lax session cookie and replaces a forged one", async () => {
    const response = await fetch(`${server.url}/`);
    const cookie = response.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^demo_session=[0-9a-f-]{36}\.[^;]+;/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    // Change the session id's first character to another one, keeping the signature: a forgery.
    const forged = cookie.split(";")[0]!.replace(/=([0-9a-f])/, (_match, first: string) => `=${first === "0" ? "1" : "0"}`);
    const again = await fetch(`${server.url}/`, { headers: { cookie: forged } });
    expect(again.headers.get("set-cookie")).toMatch(/^demo_session=/);
    const kept = await fetch(`${server.url}/`, { headers: { cookie: cookie.split(";")[0]! } });
    expect(kept.headers.get("set-cookie")).toBeNull();
  });

  it("refuses a form posted from another site", async () => {
    const visitor = await new Visitor(server).start();
    const response = await fetch(`${server.url}/documents`, {
      method: "POST",
      headers: { cookie: visitor.cookie, origin: "https://evil.example", "content-type": "application/x-www-form-urlencoded" },
      body: "title=x",
    });
    expect(response.status).toBe(403);
    expect(await server.db.select().from(documents)).toEqual([]);
  });

  it("escapes what people typed", async () => {
    const visitor = await new Visitor(server).start();
    const response = await visitor.postForm("/documents", { title: `<script>alert("x")</script>`, attachment: "", cover: "" });
    expect(response.status).toBe(303);
    const page = await (await visitor.fetch(response.headers.get("location")!)).text();
    expect(page).not.toContain("<script>alert");
    expect(page).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
  });
});
