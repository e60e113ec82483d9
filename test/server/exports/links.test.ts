import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExportQueuedResponse } from "../../../shared/exports";
import { newWriterLog, registerTestExports, type Criteria } from "./definitions";
import { createExportWorld, DATABASE_KINDS, waitForStatus, type ExportInstance, type ExportWorld } from "./harness";

/** The routes are mounted at the root in these tests; links carry the default base `/async-uploads`. */
const path = (link: string) => link.replace(/^\/async-uploads/, "");

describe.each(DATABASE_KINDS)("export links on %s", (kind) => {
  let world: ExportWorld;
  let app: ExportInstance;
  const log = newWriterLog();

  beforeAll(async () => {
    world = await createExportWorld(kind);
    app = await world.instance({ register: (uploads) => registerTestExports(uploads, log) });
  }, 120_000);
  afterAll(() => world?.close(), 60_000);

  async function built(exportId: string, tag: string, as = "alice") {
    const response = await app.requestExport(exportId, { tag, rows: 20, mode: "ok" } satisfies Criteria, as);
    expect(response.status).toBe(202);
    const { export: queued } = (await response.json()) as ExportQueuedResponse;
    await waitForStatus(world.db, queued.id, ["succeeded"]);
    await expect.poll(() => log.ready.some((ready) => ready.export.id === queued.id)).toBe(true);
    return { id: queued.id, ready: log.ready.find((ready) => ready.export.id === queued.id)! };
  }

  const codeOf = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code;

  it("hands onReady a requester-only link: the requester is redirected to the file, others get their own refusals", async () => {
    const { ready } = await built("rows.csv", "mail");
    expect(ready.generalLink).toBeUndefined();
    const mine = await app.request(path(ready.link), { as: "alice" });
    expect(mine.status).toBe(302);
    expect(mine.headers.get("cache-control")).toBe("private, no-store");
    const file = await app.request(mine.headers.get("location")!, { as: null });
    expect(file.status).toBe(200);
    expect(file.headers.get("content-disposition")).toMatch(/^attachment; filename="rows-mail\.csv"/);

    const someoneElse = await app.request(path(ready.link), { as: "bob" });
    expect(someoneElse.status).toBe(403);
    expect(await codeOf(someoneElse)).toBe("not_requester");
    const signedOut = await app.request(path(ready.link), { as: null });
    expect(signedOut.status).toBe(401);
    expect(await codeOf(signedOut)).toBe("unauthenticated");
  });

  it("makes general links on request: anyone holding one downloads", async () => {
    const { id, ready } = await built("general.csv", "shared");
    expect(ready.generalLink).toEqual(expect.stringMatching(/^\/async-uploads\/e\//));
    for (const as of ["bob", null]) expect((await app.request(path(ready.generalLink!), { as })).status).toBe(302);
    const made = await app.uploads.exports.link(id, { general: true });
    expect((await app.request(path(made), { as: "carol" })).status).toBe(302);
  });

  it("refuses expired, tampered and other kinds of tokens, each with its own code", async () => {
    const { id, ready } = await built("rows.csv", "tokens");
    const short = await app.uploads.exports.link(id, { lifetimeSeconds: 0.001 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const expired = await app.request(path(short));
    expect(expired.status).toBe(403);
    expect(await codeOf(expired)).toBe("expired_token");

    const token = ready.link.split("/e/")[1]!;
    const [payload, signature] = token.split(".");
    // The same claims for bob, with alice's signature.
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as Record<string, unknown>;
    const forged = `${Buffer.from(JSON.stringify({ ...claims, s: "bob" })).toString("base64url")}.${signature}`;
    const flipped = `${payload}.${signature!.slice(0, -1)}${signature!.endsWith("A") ? "B" : "A"}`;
    const topicToken = app.uploads.topicToken(`export:${id}`, "alice");
    const fileRedirect = await app.request(`/exports/${id}/file`);
    const downloadToken = fileRedirect.headers.get("location")!.split("/").pop()!;
    for (const bad of [forged, flipped, "nonsense", `${payload}`, `${token}.extra`, topicToken, downloadToken]) {
      const response = await app.request(`/e/${encodeURIComponent(bad)}`, { as: bad === forged ? "bob" : "alice" });
      expect(response.status, bad).toBe(403);
      expect(await codeOf(response), bad).toBe("invalid_token");
    }
  });

  it("answers 409 before the file is ready and 404 once the export is cleared", async () => {
    const response = await app.requestExport("rows.csv", { tag: "later", rows: 0, mode: "wait" } satisfies Criteria);
    const { export: queued } = (await response.json()) as ExportQueuedResponse;
    const link = await app.uploads.exports.link(queued.id);
    const early = await app.request(path(link));
    expect(early.status).toBe(409);
    expect(await codeOf(early)).toBe("not_ready");
    expect((await app.request(`/exports/${queued.id}`, { method: "DELETE" })).status).toBe(204);
    const gone = await app.request(path(link));
    expect(gone.status).toBe(404);
  });
});
