import fc from "fast-check";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ATTACHMENT_FIELD, COVER_FIELD } from "../../demo/fields";
import { documents } from "../../demo/schema";
import { asyncTempFile } from "../../server/db/schema";
import { PDF_BYTES, Visitor, startDemo, type DemoServer } from "../e2e/demo/harness";
import { GREYSCALE, encodePng } from "../helpers/sample-files";
import { formRouteRequest, type GeneratedRequest } from "./demo-form-inputs";
import { RawConnection, rawRequest, type RawAnswer } from "./http";

/**
 * Generated requests against the demo's form routes, over real HTTP on keep-alive connections to the
 * demo as `npm start` runs it (PostgreSQL, filesystem storage). Whatever comes (body, Content-Type,
 * Content-Length, Host, Origin, Sec-Fetch-Site, cookie, path, query): never a 5xx; a refusal is a 4xx
 * with a message people can read, and leaves no document row, async_temp_file row or stored object
 * changed; the connection takes the next request (or the answer said `Connection: close`).
 */

/** Generated inputs per route; POST routes are where the bad input goes, the pages get fewer. */
const RUNS = { post: Number(process.env.DEMO_PROPERTY_RUNS ?? 200), get: Math.ceil(Number(process.env.DEMO_PROPERTY_RUNS ?? 200) / 3) };

describe("demo form routes, generated requests (filesystem)", () => {
  let server: DemoServer;
  let alice: Visitor;
  let bob: Visitor;
  let port: number;
  let ownId = "";
  let otherId = "";
  let pendingKey = "";
  const tally = new Map<string, Map<string, number>>();

  beforeAll(async () => {
    server = await startDemo("filesystem");
    port = Number(new URL(server.url).port);
    alice = await new Visitor(server).start();
    bob = await new Visitor(server).start();
  });
  afterAll(async () => {
    for (const [route, statuses] of tally) console.log(`[demo-forms] ${route}: ${[...statuses].map(([status, count]) => `${status}×${count}`).join(" ")}`);
    await server?.close();
  });

  async function saveDocument(visitor: Visitor, title: string): Promise<string> {
    const saved = await visitor.postForm("/documents", { title, attachment: "", cover: "" });
    if (saved.status !== 303) throw new Error(`saving a document answered ${saved.status}`);
    return saved.headers.get("location")!.split("/").pop()!;
  }

  const exists = async (id: string) => id !== "" && (await server.db.select({ id: documents.id }).from(documents).where(eq(documents.id, id))).length === 1;

  /** Both sessions' documents and this session's pending upload exist before each request (a generated save or delete may use them up). */
  async function ensureSeeds(): Promise<void> {
    if (!(await exists(ownId))) ownId = await saveDocument(alice, "Alice's");
    if (!(await exists(otherId))) otherId = await saveDocument(bob, "Bob's");
    const [pending] = pendingKey
      ? await server.db.select().from(asyncTempFile).where(and(eq(asyncTempFile.key, pendingKey), eq(asyncTempFile.status, "pending")))
      : [];
    if (!pending) pendingKey = await alice.uploadFile(ATTACHMENT_FIELD, "notes.pdf", "application/pdf", PDF_BYTES);
  }

  /** Every row and object that a request could leave behind or change. */
  async function snapshot(): Promise<string> {
    const rows = await server.db.select().from(documents).orderBy(documents.id);
    const temps = await server.db.select({ id: asyncTempFile.id, status: asyncTempFile.status }).from(asyncTempFile).orderBy(asyncTempFile.id);
    return JSON.stringify({ rows, temps, keys: await server.listKeys() });
  }

  let coverKey = "";
  function resolve(text: string): string {
    return text
      .replaceAll("__SELF__", `127.0.0.1:${port}`)
      .replaceAll("__OWN__", ownId)
      .replaceAll("__OTHER__", otherId)
      .replaceAll("__PENDING__", pendingKey)
      .replaceAll("__COVER__", coverKey);
  }

  /** Uploads the request's cover (a PNG whose header states the generated size) when its body names one. */
  async function uploadCover(request: GeneratedRequest): Promise<void> {
    if (!Buffer.from(request.body).includes("__COVER__")) return;
    const [width, height] = request.coverDimensions;
    coverKey = await alice.uploadFile(COVER_FIELD, "cover.png", "image/png", encodePng(width, height, GREYSCALE, Uint8Array.of(0, 0)));
  }

  function encode(request: GeneratedRequest): Buffer {
    const headers: Array<[string, string]> = [];
    if (request.host !== null) headers.push(["Host", resolve(request.host)]);
    if (request.origin !== null) headers.push(["Origin", resolve(request.origin)]);
    if (request.secFetchSite !== null) headers.push(["Sec-Fetch-Site", request.secFetchSite]);
    const cookie = { session: alice.cookie, "other-session": bob.cookie, forged: "demo_session=0000.forged", none: null }[request.cookie];
    if (cookie !== null) headers.push(["Cookie", cookie]);
    if (request.contentType !== null) headers.push(["Content-Type", request.contentType]);
    const body = Buffer.from(resolve(Buffer.from(request.body).toString("latin1")), "latin1");
    if (request.framing === "chunked") {
      headers.push(["Transfer-Encoding", "chunked"]);
      const chunked = body.byteLength === 0 ? "" : `${body.byteLength.toString(16)}\r\n${body.toString("latin1")}\r\n`;
      return rawRequest(request.method, resolve(request.target), headers, Buffer.from(`${chunked}0\r\n\r\n`, "latin1"));
    }
    headers.push(["Content-Length", request.framing === "length" ? String(body.byteLength) : request.framing.unreadableLength]);
    return rawRequest(request.method, resolve(request.target), headers, body);
  }

  /** A plain request the demo must answer with 200: the home page of this session. */
  const homePage = () => rawRequest("GET", "/", [["Host", `127.0.0.1:${port}`], ["Cookie", alice.cookie]]);

  async function check(route: string, request: GeneratedRequest): Promise<void> {
    await ensureSeeds();
    await uploadCover(request);
    const before = await snapshot();
    // The session the request does not speak for: its document must come out as it went in.
    const bystander = request.cookie === "other-session" ? ownId : otherId;
    const bystanderRow = async () => JSON.stringify(await server.db.select().from(documents).where(eq(documents.id, bystander)));
    const bystanderBefore = await bystanderRow();
    const connection = await RawConnection.open(port);
    try {
      connection.write(encode(request));
      const answer = await connection.read(10_000);
      expect(answer, "an answer before the connection closed").not.toBeNull();
      const { status, headers, body } = answer as RawAnswer;
      count(route, status);
      expect(status, body.slice(0, 300)).toBeGreaterThanOrEqual(200);
      expect(status, body.slice(0, 300)).toBeLessThan(500);
      if (status >= 300 && status < 400) {
        expect(status).toBe(303);
        expect(headers.location).toMatch(/^\/(documents\/[0-9a-f-]{36})?$/);
      }
      if (status >= 400) {
        expect(readableMessage(body), `a readable message for ${status}`).toBe(true);
      }
      if (status >= 400 || request.method === "GET") expect(await snapshot(), "nothing changed by a refused request").toBe(before);
      expect(await bystanderRow(), "another session's document").toBe(bystanderBefore);

      // The connection takes the next request, unless the answer said it would close.
      let next = connection;
      if (headers.connection?.toLowerCase() === "close") {
        expect(await connection.waitClosed(), "closed as announced").toBe(true);
        next = await RawConnection.open(port);
      }
      try {
        next.write(homePage());
        const home = await next.read(10_000);
        expect(home?.status, "the next request on the connection").toBe(200);
      } finally {
        if (next !== connection) next.destroy();
      }
    } finally {
      connection.destroy();
      await discardCover();
    }
  }

  /** The request's cover, when it was not saved, goes as cleanup would take it: the session's pending uploads stay few. */
  async function discardCover(): Promise<void> {
    if (coverKey === "") return;
    const key = coverKey;
    coverKey = "";
    const removed = await server.db.delete(asyncTempFile).where(and(eq(asyncTempFile.key, key), eq(asyncTempFile.status, "pending"))).returning();
    if (removed.length > 0) await server.storage.delete(key);
  }

  function count(route: string, status: number): void {
    const statuses = tally.get(route) ?? new Map<string, number>();
    tally.set(route, statuses);
    statuses.set(String(status), (statuses.get(String(status)) ?? 0) + 1);
  }

  const postMethods = ["POST", "POST", "POST", "POST", "PUT", "PATCH", "DELETE"] as const;
  const routes = [
    ["/documents", postMethods, RUNS.post],
    ["/documents/{id}", postMethods, RUNS.post],
    ["/documents/{id}/delete", postMethods, RUNS.post],
    ["/documents/{id}", ["GET"], RUNS.get],
    ["/documents/{id}/edit", ["GET"], RUNS.get],
    ["/documents/{id}/delete", ["GET"], RUNS.get],
    ["/documents/new", ["GET"], RUNS.get],
    ["/", [...postMethods, "GET", "GET", "GET"], RUNS.get],
  ] as const;

  it.each(routes)("%s (%s): never a 5xx, refusals readable and clean, the connection usable", async (route, methods, numRuns) => {
    const name = `${methods.join(",").replace(/(\w+)(,\1)+/g, "$1")} ${route}`;
    await fc.assert(
      fc.asyncProperty(formRouteRequest(route, methods), (request) => check(name, request)),
      { numRuns },
    );
  }, 120_000);
});

/** A 4xx body people can read: a page with a heading, or a sentence. */
function readableMessage(body: string): boolean {
  if (/^\s*<!doctype html>/i.test(body)) return /<h1>[^<]*\w[^<]*<\/h1>/.test(body);
  return /[A-Za-z]{3,}.*[A-Za-z]{3,}/.test(body);
}
