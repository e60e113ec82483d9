import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { documents } from "../../../demo/schema";
import { Visitor, startDemo, type DemoServer } from "./harness";

/**
 * Bodies the demo's form routes cannot read, over plain HTTP against the running demo: each is answered
 * with a 4xx page that says what was wrong, and the document stays as it was.
 */
describe("demo app, form bodies that cannot be read (filesystem)", () => {
  let server: DemoServer;
  let visitor: Visitor;
  let documentId: string;

  beforeAll(async () => {
    server = await startDemo("filesystem");
    visitor = await new Visitor(server).start();
    const saved = await visitor.postForm("/documents", { title: "Kept", attachment: "", cover: "" });
    if (saved.status !== 303) throw new Error(`the first save answered ${saved.status}`);
    documentId = saved.headers.get("location")!.split("/").pop()!;
  });
  afterAll(async () => {
    await server?.close();
  });

  const boundary = "----demo-boundary";
  const part = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const wholeMultipart = `${part("title", "x")}${part("attachment", "")}--${boundary}--\r\n`;

  /** [what it is, Content-Type (null: none), body]; none of them is a form the demo can read. */
  const unreadable: Array<[string, string | null, string | Uint8Array]> = [
    ["multipart without a boundary", "multipart/form-data", wholeMultipart],
    ["multipart with another boundary", "multipart/form-data; boundary=other", wholeMultipart],
    ["multipart cut short", `multipart/form-data; boundary=${boundary}`, wholeMultipart.slice(0, 60)],
    ["multipart with no parts", `multipart/form-data; boundary=${boundary}`, "garbage"],
    ["multipart in UTF-16", `multipart/form-data; boundary=${boundary}; charset=utf-16`, wholeMultipart],
    ["urlencoded in UTF-16", "application/x-www-form-urlencoded; charset=utf-16", "title=x"],
    ["urlencoded in Latin-1", "application/x-www-form-urlencoded; charset=iso-8859-1", "title=caf%E9"],
    ["urlencoded with a stray %", "application/x-www-form-urlencoded", "title=100%"],
    ["urlencoded escapes that are not UTF-8", "application/x-www-form-urlencoded", "title=caf%E9"],
    ["urlencoded bytes that are not UTF-8", "application/x-www-form-urlencoded", Uint8Array.of(0x74, 0x69, 0x74, 0x6c, 0x65, 0x3d, 0xe9)],
    ["JSON", "application/json", JSON.stringify({ title: "x" })],
    ["plain text", "text/plain", "title=x"],
    ["bytes", "application/octet-stream", Uint8Array.of(0, 1, 2, 255)],
    ["no Content-Type", null, Uint8Array.of(0x74, 0x3d, 0x78)],
    ["a Content-Type that is no media type", "form", "title=x"],
  ];

  const routes = () => ["/documents", `/documents/${documentId}`, `/documents/${documentId}/delete`];

  it.each(unreadable)("answers %s with 400 and a page that says so, on every form route", async (_what, contentType, body) => {
    for (const path of routes()) {
      const response = await visitor.fetch(path, {
        method: "POST",
        headers: contentType === null ? {} : { "content-type": contentType },
        body: typeof body === "string" ? body : new Uint8Array(body),
      });
      expect(response.status, path).toBe(400);
      expect(response.headers.get("content-type"), path).toMatch(/^text\/html/);
      expect(await response.text(), path).toMatch(/The form could not be read/);
    }
    const rows = await server.db.select().from(documents);
    expect(rows.map((row) => [row.id, row.title])).toEqual([[documentId, "Kept"]]);
  });

  it("answers a body over the limit with 413 and a page, and still reads a form in UTF-8 either way", async () => {
    const huge = `title=${"x".repeat(70 * 1024)}`;
    const tooLarge = await visitor.fetch("/documents", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: huge });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await tooLarge.text()).toMatch(/The form is too large/);
    for (const contentType of ["application/x-www-form-urlencoded; charset=UTF-8", "Application/X-WWW-Form-Urlencoded"]) {
      const response = await visitor.fetch(`/documents/${documentId}`, { method: "POST", headers: { "content-type": contentType }, body: "title=Kept" });
      expect(response.status, contentType).toBe(303);
    }
  });
});
