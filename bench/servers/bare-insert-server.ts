/**
 * Child process: the database's floor for `POST upload-url`. The same Hono and @hono/node-server as our
 * routes, and a route that parses the JSON body, inserts the same `async_temp_file` row our route
 * inserts (one prepared `INSERT`, autocommit, postgres.js with the same pool of 10 connections) and
 * answers 201: no validation, no limits, no signing.
 *
 * Environment: BENCH_DB_URL, BENCH_DB_SCHEMA.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import postgres from "postgres";
import { failStart, serveParent } from "../lib/child";

try {
  const url = process.env.BENCH_DB_URL;
  const schema = process.env.BENCH_DB_SCHEMA;
  if (!url || !schema) throw new Error("BENCH_DB_URL and BENCH_DB_SCHEMA must be set");
  const sql = postgres(url, { onnotice: () => {}, max: 10, connection: { search_path: schema } });
  const app = new Hono();
  app.post("/upload-url", async (c) => {
    const body = (await c.req.json()) as { fieldId: string; filename: string; contentType: string; size: number };
    const id = crypto.randomUUID();
    const key = `async-temp/2025/01/01/${id}/${body.filename}`;
    const expiresAt = new Date(Date.now() + 86_400_000);
    await sql`insert into async_temp_file (id, key, field_id, principal, original_filename, content_type, declared_size, expires_at)
      values (${id}, ${key}, ${body.fieldId}, ${c.req.header("x-principal") ?? "anonymous"}, ${body.filename}, ${body.contentType}, ${body.size}, ${expiresAt})`;
    return c.json({ key, upload: { method: "PUT", url: `/upload/${key}`, headers: { "Content-Type": body.contentType } } }, 201);
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(started));
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  serveParent({ url: `http://127.0.0.1:${address.port}`, pid: process.pid }, {}, async () => {
    server.close();
    await sql.end({ timeout: 5 });
  });
} catch (error) {
  failStart(error);
}
