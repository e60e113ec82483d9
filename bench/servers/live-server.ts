/**
 * Child process for the live bench: our routes (`createAsyncUploads`, `GET /events`) on the bench's
 * PostgreSQL schema, served by @hono/node-server. Answers the parent with the live channel's counts,
 * its memory (after a full GC when Node runs with --expose-gc) and its open connections.
 *
 * Environment: BENCH_DB_URL, BENCH_DB_SCHEMA, BENCH_FS_ROOT.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { createAsyncUploads } from "../../server/create-async-uploads";
import { filesystemStorage } from "../../server/storage/filesystem";
import { failStart, serveParent } from "../lib/child";
import { BENCH_SECRET } from "../lib/constants";
import { connectToSchema } from "../lib/database";

try {
  const connection = await connectToSchema(process.env.BENCH_DB_URL!, process.env.BENCH_DB_SCHEMA!);
  const uploads = createAsyncUploads({
    db: connection.db,
    secret: BENCH_SECRET,
    storage: filesystemStorage({ root: process.env.BENCH_FS_ROOT! }),
    // Raw-socket clients send a header; the browser page (which EventSource cannot give headers) a cookie.
    getPrincipal: (c) => c.req.header("x-principal") ?? /(?:^|;\s*)who=([\w-]+)/.exec(c.req.header("cookie") ?? "")?.[1] ?? null,
    // Each bench client is its own principal; the bound is not what is measured here.
    live: { maxStreamsPerPrincipal: 10 },
  });
  const app = new Hono();
  app.route("/async-uploads", uploads.routes);
  app.get("/", (c) => c.html("<!doctype html><title>live bench</title><p>live bench"));
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(started));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const collect = () => (globalThis as { gc?: () => void }).gc?.();
  serveParent(
    { url: `http://127.0.0.1:${port}/async-uploads`, origin: `http://127.0.0.1:${port}` },
    {
      stats: async () => {
        collect();
        collect();
        const connections = await new Promise<number>((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
        return { ...uploads.live.stats(), connections, rss: process.memoryUsage.rss(), heapUsed: process.memoryUsage().heapUsed, gc: typeof (globalThis as { gc?: unknown }).gc === "function" };
      },
    },
    async () => {
      await uploads.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await connection.close();
    },
  );
} catch (error) {
  failStart(error);
}
