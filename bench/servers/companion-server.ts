/**
 * Child process: Uppy Companion (@uppy/companion) with its S3 signing endpoints pointed at s3rver,
 * configured as its documentation's standalone example (defaults kept, metrics included), served by
 * its own Express app. `GET /s3/params?filename=…&type=…` answers a presigned POST, as our S3
 * backend does.
 *
 * Environment: BENCH_S3 (JSON: endpoint, region, bucket, credentials).
 */
import { app as companionApp } from "@uppy/companion";
import { mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { failStart, serveParent } from "../lib/child";

try {
  const s3 = JSON.parse(process.env.BENCH_S3 ?? "") as { endpoint: string; region: string; bucket: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  const filePath = await mkdtemp(join(tmpdir(), "bench-companion-"));
  // The port is known only after listening; Companion needs `server.host` up front, and uses it only
  // for OAuth redirects, which the S3 endpoints never make.
  const { app } = companionApp({
    secret: "bench-companion-secret-0123456789",
    filePath,
    server: { host: "127.0.0.1", protocol: "http" },
    corsOrigins: true,
    uploadUrls: ["http://127.0.0.1"],
    s3: {
      key: s3.credentials.accessKeyId,
      secret: s3.credentials.secretAccessKey,
      bucket: s3.bucket,
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: true,
    },
  });
  const server: Server = await new Promise((resolve) => {
    const started = app.listen(0, "127.0.0.1", () => resolve(started));
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  serveParent({ url: `http://127.0.0.1:${address.port}`, pid: process.pid }, {}, async () => {
    server.closeAllConnections();
    server.close();
    await rm(filePath, { recursive: true, force: true });
  });
} catch (error) {
  failStart(error);
}
