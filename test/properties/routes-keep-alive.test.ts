import { count } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asyncTempFile } from "../../server/db/schema";
import { MiB } from "../../server/registry";
import { DRAIN_MAX_BYTES } from "../../server/routes/request-body";
import { createTestUploads, PDF_BYTES, type TestUploads } from "../helpers/uploads";
import { keepAliveClient, listen, RawConnection, rawRequest, type Answer, type Listening } from "./http";

/**
 * A refusal given before (or part-way through) reading the request body must reach the client and
 * leave its keep-alive connection usable, or say `Connection: close`. Before the fix, the answer
 * said keep-alive and the server adapter dropped the socket afterwards: the next request on it
 * failed with "socket hang up" / "other side closed".
 */
describe("refusals keep the connection usable, or close it saying so", () => {
  let t: TestUploads;
  let server: Listening;
  beforeAll(async () => {
    t = await createTestUploads({ register: (uploads) => uploads.registry.register("docs.file", { maxSize: MiB }) });
    server = await listen(t.uploads.routes.fetch);
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  const json = { "content-type": "application/json", "x-principal": "alice" };
  const valid = JSON.stringify({ fieldId: "docs.file", filename: "a.pdf", contentType: "application/pdf", size: PDF_BYTES.length });
  const spaces = (n: number) => new Uint8Array(n).fill(0x20);

  async function fsTarget(size = PDF_BYTES.length) {
    const target = await t.issue({ fieldId: "docs.file", filename: "a.pdf", contentType: "application/pdf", size });
    return target.upload.url;
  }

  /** Sends the refused request, then a valid one through the same one-connection client. */
  async function refusedThenValid(method: string, path: string, headers: Record<string, string>, body: Uint8Array) {
    const client = keepAliveClient(server.port);
    try {
      const refused = await client.send(method, path, headers, body);
      const next = await client.send("POST", "/upload-url", json, new TextEncoder().encode(valid));
      return { refused, next };
    } finally {
      client.close();
    }
  }

  function expectCleanRefusal(refused: Answer, next: Answer, status: number) {
    expect(refused.status).toBe(status);
    const { error } = JSON.parse(refused.body) as { error: { code: string; message: string } };
    expect(error.code).toMatch(/^[a-z_]+$/);
    expect(error.message.length).toBeGreaterThan(10);
    expect(next.status).toBe(201);
    // Either the same connection carried the next request, or the refusal said it would close it.
    if (refused.headers.connection === "close") expect(next.connection).toBe(refused.connection + 1);
    else expect(next.connection).toBe(refused.connection);
  }

  const cases: Array<[string, string, () => Promise<string>, Record<string, string>, number, number]> = [
    ["a JSON body over the limit (declared length, small enough to drain)", "POST", async () => "/upload-url", json, MiB, 400],
    ["a JSON body far over the limit (declared length)", "POST", async () => "/upload-url", json, 24 * MiB, 400],
    ["a JSON body over the limit, chunked", "POST", async () => "/upload-url", { ...json, "transfer-encoding": "chunked" }, 24 * MiB, 400],
    ["a body of the wrong type", "POST", async () => "/upload-url", { ...json, "content-type": "text/plain" }, MiB, 400],
    ["a foreign origin", "POST", async () => "/multipart/abort", { ...json, origin: "https://evil.example" }, MiB, 403],
    ["an unknown route", "POST", async () => "/nothing-here", json, MiB, 404],
    ["a forged upload token", "PUT", async () => "/fs/upload/forged.token", { "content-type": "application/pdf" }, 24 * MiB, 403],
    ["a part with a forged token", "PUT", async () => "/fs/upload-part/forged.token", {}, MiB, 403],
    ["an upload declared larger than issued", "PUT", () => fsTarget(), { "content-type": "application/pdf" }, 24 * MiB, 413],
    ["an upload of the wrong type", "PUT", () => fsTarget(), { "content-type": "text/html" }, MiB, 400],
    ["an upload longer than issued, chunked", "PUT", () => fsTarget(), { "content-type": "application/pdf", "transfer-encoding": "chunked" }, 24 * MiB, 413],
  ];

  it.each(cases)("%s", async (_label, method, pathOf, headers, bodySize, status) => {
    const { refused, next } = await refusedThenValid(method, await pathOf(), headers, spaces(bodySize));
    expectCleanRefusal(refused, next, status);
    // A body the routes could drain keeps the connection; only a large one closes it.
    if (bodySize <= DRAIN_MAX_BYTES && headers["transfer-encoding"] === undefined) expect(refused.headers.connection).not.toBe("close");
  });

  it.each([
    ["a Content-Length it never sends", ["Content-Length", "1000000000"]],
    ["a chunked body it never ends", ["Transfer-Encoding", "chunked"]],
  ] as const)("a GET that declares %s: the answer says Connection: close, and the server closes", async (_label, header) => {
    // Fetch gives routes no body for a GET, so nothing could read those bytes: the next request would be taken for them.
    const connection = await RawConnection.open(server.port);
    try {
      connection.write(rawRequest("GET", "/fs/download/forged.token", [["Host", `127.0.0.1:${server.port}`], header]));
      const answer = await connection.read();
      expect(answer?.status).toBe(403);
      expect(answer?.headers.connection).toBe("close");
      expect(await connection.waitClosed()).toBe(true);
    } finally {
      connection.destroy();
    }
  });

  it("leaves no row for the refused requests (only the valid ones and the issued targets)", async () => {
    const [row] = await t.db.select({ n: count() }).from(asyncTempFile);
    // One valid request after each case, and one issued target for each filesystem upload case.
    expect(row?.n).toBe(cases.length + cases.filter(([label]) => label.startsWith("an upload ")).length);
  });
});
