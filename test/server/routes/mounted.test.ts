import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UploadUrlResponse } from "../../../shared/schemas";
import { createTestUploads, PDF_BYTES, type TestUploads } from "../../helpers/uploads";

// The routes as an app mounts them: inside its own Hono app, under a prefix, beside its own pages.
describe("routes mounted in an app", () => {
  let t: TestUploads;
  let app: Hono;
  beforeAll(async () => {
    t = await createTestUploads({ register: (uploads) => uploads.registry.register("docs.attachment", { maxSize: 1024 }) });
    app = new Hono();
    app.route("/async-uploads", t.uploads.routes);
    app.route("/tenants/:tenant/uploads", t.uploads.routes);
    app.get("/", (c) => c.text("the app's page"));
    app.notFound((c) => c.html("<h1>the app's own 404 page</h1>", 404));
  });
  afterAll(() => t.close());

  it.each(["GET /async-uploads/nothing", "POST /async-uploads/upload-url/extra", "DELETE /async-uploads/upload-url"])(
    "answers an unknown route under the mount point (%s) with the contract's JSON 404",
    async (request) => {
      const [method, path] = request.split(" ") as [string, string];
      const response = await app.request(path, { method });
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: { code: "not_found", message: "There is no such route." } });
    },
  );

  it("leaves the app's own pages and its own 404 alone", async () => {
    expect(await (await app.request("/")).text()).toBe("the app's page");
    const missing = await app.request("/elsewhere");
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain("the app's own 404 page");
  });

  it.each(["/async-uploads", "/tenants/acme/uploads"])("signs filesystem URLs under the mount point %s, and they work there", async (mountPoint) => {
    const headers = { "content-type": "application/json", "x-principal": "alice" };
    const body = JSON.stringify({ fieldId: "docs.attachment", filename: "a.pdf", contentType: "application/pdf", size: PDF_BYTES.length });
    const issued = await app.request(`${mountPoint}/upload-url`, { method: "POST", headers, body });
    expect(issued.status).toBe(201);
    const { upload } = (await issued.json()) as UploadUrlResponse;
    expect(upload.url).toMatch(new RegExp(`^${mountPoint}/fs/upload/[^/]+$`));
    const stored = await app.request(upload.url, { method: "PUT", headers: upload.headers, body: PDF_BYTES });
    expect(stored.status).toBe(201);
  });
});
