/**
 * Load test: N concurrent clients, each looping upload-url → PUT → save for a bounded time, against
 * the real HTTP server (@hono/node-server on 127.0.0.1), the filesystem backend and PostgreSQL in a
 * fresh schema. Then everything is reconciled: documents saved = documents the clients were told
 * were saved = final files on disk (with the bytes each client sent), no temp file, no temp row.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run test:load
 *
 * Environment: LOAD_CLIENTS (default 200), LOAD_SECONDS (default 20). Exits 1 on any error or mismatch.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { serve } from "@hono/node-server";
import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { createAsyncUploads } from "../../server/create-async-uploads";
import { connectDatabase } from "../../server/db/database";
import { MiB } from "../../server/registry";
import { filesystemStorage } from "../../server/storage/filesystem";
import type { UploadUrlResponse } from "../../shared/schemas";
import { listFiles } from "../helpers/files";

const CLIENTS = Number(process.env.LOAD_CLIENTS ?? 200);
const SECONDS = Number(process.env.LOAD_SECONDS ?? 20);
const FIELD = "load.attachment";
const SECRET = randomBytes(32).toString("hex");

async function main(): Promise<number> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error("test:load needs PostgreSQL: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)");
    return 2;
  }
  const schema = `load_${randomBytes(6).toString("hex")}`;
  const root = await mkdtemp(join(tmpdir(), "async-uploads-load-"));
  const connection = await connectDatabase({ url, schema });
  const { db } = connection;
  await db.execute(sql`create table load_documents (
    id uuid primary key, owner text not null, file_key text not null, file_size bigint not null, created_at timestamptz not null default now())`);

  const uploads = createAsyncUploads({ db, secret: SECRET, storage: filesystemStorage({ root }), getPrincipal: (c) => c.req.header("x-principal") ?? null });
  uploads.registry.register(FIELD, { maxSize: MiB, uploadTo: ({ instanceId, fileId, filename }) => `documents/${instanceId}/${fileId}/${filename}` });

  // The app: its routes, and a save route that commits the upload and inserts the document in one transaction.
  const app = new Hono();
  app.route("/async-uploads", uploads.routes);
  app.post("/documents", async (c) => {
    const principal = c.req.header("x-principal");
    const { file } = await c.req.json<{ file: string }>();
    if (!principal) return c.json({ error: "sign in" }, 401);
    const id = randomUUID();
    const saved = await uploads.transaction(async (tx, commit) => {
      const result = await commit({ fieldId: FIELD, value: file, principal, instanceId: id });
      const committed = result.committed[0]!;
      await tx.execute(sql`insert into load_documents (id, owner, file_key, file_size) values (${id}, ${principal}, ${result.key}, ${committed.size})`);
      return result;
    });
    return c.json({ id, key: saved.key }, 201);
  });
  app.onError((error, c) => {
    console.error("[load] save failed:", error);
    return c.json({ error: String(error) }, 500);
  });

  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once("listening", () => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const stats = { cycles: 0, errors: 0, firstErrors: [] as string[], latencies: [] as number[] };
  /** What each client was told was saved, with a hash of the bytes it sent. */
  const saved = new Map<string, { key: string; sha256: string; size: number }>();
  const deadline = Date.now() + SECONDS * 1000;

  async function client(index: number) {
    const principal = `client-${index}`;
    const json = { "content-type": "application/json", origin: base, "x-principal": principal };
    while (Date.now() < deadline) {
      const started = performance.now();
      try {
        const bytes = randomBytes(512 + Math.floor(Math.random() * 7680));
        const issued = await fetch(`${base}/async-uploads/upload-url`, {
          method: "POST",
          headers: json,
          body: JSON.stringify({ fieldId: FIELD, filename: `file-${index}.bin`, contentType: "application/octet-stream", size: bytes.length }),
        });
        if (issued.status !== 201) throw new Error(`upload-url ${issued.status}: ${await issued.text()}`);
        const target = (await issued.json()) as UploadUrlResponse;
        const put = await fetch(new URL(target.upload.url, `${base}/async-uploads/`), { method: target.upload.method, headers: target.upload.headers, body: bytes });
        if (put.status !== 201) throw new Error(`upload ${put.status}: ${await put.text()}`);
        const save = await fetch(`${base}/documents`, { method: "POST", headers: json, body: JSON.stringify({ file: target.key }) });
        if (save.status !== 201) throw new Error(`save ${save.status}: ${await save.text()}`);
        const document = (await save.json()) as { id: string; key: string };
        saved.set(document.id, { key: document.key, sha256: sha256(bytes), size: bytes.length });
        stats.cycles++;
        stats.latencies.push(performance.now() - started);
      } catch (error) {
        stats.errors++;
        if (stats.firstErrors.length < 5) stats.firstErrors.push(String(error));
      }
    }
  }

  const began = Date.now();
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
  const elapsed = (Date.now() - began) / 1000;
  await new Promise<void>((resolve) => server.close(() => resolve()));

  // Reconcile: the database, the disk and what the clients were told must all agree.
  const documents = (await db.execute<{ id: string; file_key: string; file_size: string }>(sql`select id, file_key, file_size from load_documents`)) as unknown as Array<{ id: string; file_key: string; file_size: string }>;
  const [tempRows] = (await db.execute<{ n: number }>(sql`select count(*)::int as n from async_temp_file`)) as unknown as Array<{ n: number }>;
  const files = (await listFiles(root)).map((path) => relative(root, path).split("\\").join("/"));
  const tempFiles = files.filter((file) => file.startsWith(uploads.settings.tempPrefix));
  const finalFiles = new Set(files.filter((file) => !file.startsWith(uploads.settings.tempPrefix)));
  const problems: string[] = [];
  if (stats.errors > 0) problems.push(`${stats.errors} client errors, e.g. ${stats.firstErrors.join(" | ")}`);
  if (documents.length !== saved.size) problems.push(`${documents.length} documents in the table, ${saved.size} reported saved to clients`);
  if (finalFiles.size !== documents.length) problems.push(`${finalFiles.size} final files on disk, ${documents.length} documents`);
  if (tempFiles.length > 0) problems.push(`${tempFiles.length} temp files left, e.g. ${tempFiles[0]}`);
  if ((tempRows?.n ?? 0) > 0) problems.push(`${tempRows?.n} async_temp_file rows left`);
  let verified = 0;
  for (const document of documents) {
    const expected = saved.get(document.id);
    if (!expected) {
      problems.push(`document ${document.id} was never reported to a client`);
      continue;
    }
    if (document.file_key !== expected.key || !finalFiles.has(document.file_key)) {
      problems.push(`document ${document.id}: ${document.file_key} is missing on disk`);
      continue;
    }
    const bytes = await readFile(join(root, document.file_key));
    if (sha256(bytes) !== expected.sha256 || Number(document.file_size) !== expected.size) {
      problems.push(`document ${document.id}: stored bytes differ from what the client sent`);
    } else verified++;
  }

  const sorted = stats.latencies.sort((a, b) => a - b);
  const percentile = (p: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0);
  const summary = {
    clients: CLIENTS,
    seconds: Number(elapsed.toFixed(1)),
    committed: stats.cycles,
    perSecond: Math.round(stats.cycles / elapsed),
    errors: stats.errors,
    latencyMs: { p50: percentile(50), p95: percentile(95), p99: percentile(99), max: Math.round(sorted.at(-1) ?? 0) },
    reconciliation: {
      documents: documents.length,
      reportedToClients: saved.size,
      finalFilesOnDisk: finalFiles.size,
      bytesVerified: verified,
      tempFilesLeft: tempFiles.length,
      tempRowsLeft: tempRows?.n ?? 0,
    },
    ok: problems.length === 0,
  };
  console.log(JSON.stringify(summary, null, 2));
  for (const problem of problems.slice(0, 20)) console.error(`MISMATCH: ${problem}`);

  await connection.close();
  const { default: postgres } = await import("postgres");
  const admin = postgres(url, { onnotice: () => {}, max: 1 });
  await admin.unsafe(`drop schema if exists "${schema}" cascade`);
  await admin.end({ timeout: 5 });
  await rm(root, { recursive: true, force: true });
  return problems.length === 0 && stats.cycles > 0 ? 0 : 1;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}


main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error("[load] failed:", error);
    process.exit(1);
  },
);
