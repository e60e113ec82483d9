import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { documents } from "../../../demo/schema";
import { Visitor, startDemo, type DemoServer } from "./harness";

/**
 * The demo's unsafe routes answer only requests from its own pages, whatever the body's type: a
 * foreign, opaque (`null`) or missing origin is refused with 403 before the body is read, and the
 * session's document stays as it was.
 */
describe("demo app, posts from elsewhere (filesystem)", () => {
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

  const bodies: Array<[string | null, string]> = [
    ["application/x-www-form-urlencoded", "title=Taken"],
    ["multipart/form-data; boundary=b", '--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nTaken\r\n--b--\r\n'],
    ["application/json", JSON.stringify({ title: "Taken" })],
    ["text/plain", "title=Taken"],
    ["application/octet-stream", "title=Taken"],
    [null, "title=Taken"],
  ];
  const foreign: Array<[string, Record<string, string>]> = [
    ["another site's Origin", { origin: "https://evil.example" }],
    ["another port's Origin", { origin: "http://127.0.0.1:1" }],
    ["an opaque Origin (null)", { origin: "null" }],
    ["no Origin and no Sec-Fetch-Site", {}],
    ["Sec-Fetch-Site: cross-site", { "sec-fetch-site": "cross-site" }],
    ["Sec-Fetch-Site: same-site", { "sec-fetch-site": "same-site" }],
    ["Sec-Fetch-Site: cross-site beside our own Origin", { "sec-fetch-site": "cross-site", origin: "SELF" }],
    ["Sec-Fetch-Site: same-origin beside another Origin", { "sec-fetch-site": "same-origin", origin: "https://evil.example" }],
  ];

  const routes = () => ["/documents", `/documents/${documentId}`, `/documents/${documentId}/delete`];

  async function post(path: string, headers: Record<string, string>, contentType: string | null, body: string): Promise<Response> {
    const sent = new Headers({ cookie: visitor.cookie });
    for (const [name, value] of Object.entries(headers)) sent.set(name, value === "SELF" ? server.url : value);
    if (contentType !== null) sent.set("content-type", contentType);
    // A Uint8Array body, so that fetch adds no Content-Type of its own.
    return fetch(new URL(path, server.url), { method: "POST", headers: sent, body: new TextEncoder().encode(body), redirect: "manual" });
  }

  it.each(foreign)("refuses %s with 403 on every unsafe route, whatever the body", async (_what, headers) => {
    for (const path of routes()) {
      for (const [contentType, body] of bodies) {
        const response = await post(path, headers, contentType, body);
        expect(response.status, `${path} ${contentType}`).toBe(403);
        expect(await response.text()).toMatch(/sent from another site/);
      }
    }
    const rows = await server.db.select().from(documents);
    expect(rows.map((row) => [row.id, row.title])).toEqual([[documentId, "Kept"]]);
  });

  it("refuses other unsafe methods from elsewhere too", async () => {
    for (const method of ["PUT", "PATCH", "DELETE"]) {
      const response = await fetch(new URL(`/documents/${documentId}`, server.url), {
        method,
        headers: { cookie: visitor.cookie, origin: "https://evil.example", "content-type": "application/json" },
        body: "{}",
      });
      expect(response.status, method).toBe(403);
    }
  });

  it("takes a post whose Origin or Sec-Fetch-Site says it came from the demo's own pages", async () => {
    const ours: Array<Record<string, string>> = [{ origin: "SELF" }, { "sec-fetch-site": "same-origin" }, { origin: "SELF", "sec-fetch-site": "same-origin" }];
    for (const headers of ours) {
      const response = await post(`/documents/${documentId}`, headers, "application/x-www-form-urlencoded", "title=Renamed");
      expect(response.status, JSON.stringify(headers)).toBe(303);
    }
    const [row] = await server.db.select().from(documents);
    expect(row?.title).toBe("Renamed");
  });
});
