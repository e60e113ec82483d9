/**
 * Child process: the framework's floor for `POST upload-url`. The same Hono and @hono/node-server as
 * our routes, a route that parses the JSON body and answers 201 with a JSON body of the same shape,
 * and nothing else: no validation, no signing, no database.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { failStart, serveParent } from "../lib/child";

try {
  const app = new Hono();
  app.post("/upload-url", async (c) => {
    const body = (await c.req.json()) as { filename: string; contentType: string };
    const key = `async-temp/2025/01/01/${crypto.randomUUID()}/${body.filename}`;
    return c.json({ key, upload: { method: "PUT", url: `/upload/${key}`, headers: { "Content-Type": body.contentType } } }, 201);
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(started));
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  serveParent({ url: `http://127.0.0.1:${address.port}`, pid: process.pid }, {}, async () => void server.close());
} catch (error) {
  failStart(error);
}
