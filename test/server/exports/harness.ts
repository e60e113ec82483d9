import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readdir, rm, stat, writeFile, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq, sql } from "drizzle-orm";
import type { ExportStatus, ExportSummary } from "../../../shared/exports";
import { createAsyncUploads, type AsyncUploads, type AsyncUploadsOptions } from "../../../server/create-async-uploads";
import { connectDatabase, type Database } from "../../../server/db/database";
import { asyncExport } from "../../../server/db/export-schema";
import { postgresFanout, type LiveMessage } from "../../../server/live/fanout";
import { filesystemStorage, type FilesystemStorage } from "../../../server/storage/filesystem";
import type { StreamingWrite } from "../../../server/exports/storage-write";
import { createTestDatabase } from "../../helpers/db";
import { TEST_SECRET } from "../../helpers/uploads";

export type DatabaseKind = "postgres" | "pglite";

/** PGlite always, PostgreSQL when `DATABASE_URL` names one. */
export const DATABASE_KINDS: DatabaseKind[] = process.env.DATABASE_URL ? ["postgres", "pglite"] : ["pglite"];

/** A switch a test flips to make the storage fail mid-write (after some bytes went through): an outage. */
export interface StorageFaults {
  failWrites: boolean;
}

/**
 * The filesystem driver with `writeStream`: its own when the driver has one, else (until the storage
 * work lands it) a spool to a temp file handed to the driver's `write`, which needs the size up front.
 * Either way a failed write leaves nothing at the key.
 */
export function streamingFilesystem(root: string, faults: StorageFaults): FilesystemStorage & StreamingWrite {
  const storage = filesystemStorage({ root }) as FilesystemStorage & Partial<StreamingWrite>;
  const own = storage.writeStream?.bind(storage);
  const writeStream: StreamingWrite["writeStream"] = async (key, body, options) => {
    const faulty = async function* () {
      let seen = 0;
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        // The outage strikes after the first chunk went through: mid-export, not at the start.
        if (faults.failWrites && seen > 0) throw new Error("storage unavailable (injected outage)");
        seen += chunk.byteLength;
        yield chunk;
      }
    };
    if (own) return own(key, faulty(), options);
    const spool = join(tmpdir(), `export-spool-${randomBytes(6).toString("hex")}`);
    await writeFile(spool, new Uint8Array());
    try {
      let size = 0;
      for await (const chunk of faulty()) {
        options.signal?.throwIfAborted();
        await appendFile(spool, chunk);
        size += chunk.byteLength;
      }
      options.signal?.throwIfAborted();
      await storage.write(key, createReadStream(spool), { size });
      return { size };
    } finally {
      await rm(spool, { force: true });
    }
  };
  return Object.assign(storage, { writeStream }) as FilesystemStorage & StreamingWrite;
}

/** One database, one storage and one fan-out channel, shared by the instances of a test file. */
export interface ExportWorld {
  kind: DatabaseKind;
  db: Database;
  root: string;
  storage: FilesystemStorage & StreamingWrite;
  faults: StorageFaults;
  bossSchema: string;
  /** Every `export` event delivered through the fan-out (so: committed), in arrival order. */
  delivered: LiveMessage[];
  instance(options?: Partial<AsyncUploadsOptions> & { register?: (uploads: AsyncUploads) => void; start?: boolean }): Promise<ExportInstance>;
  close(): Promise<void>;
}

export interface ExportInstance {
  uploads: AsyncUploads;
  /** A request to the routes (mounted at the root) as `as` (header `x-principal`; null: nobody). */
  request(path: string, init?: RequestInit & { as?: string | null }): Promise<Response>;
  /** `POST /exports` as `as`. */
  requestExport(exportId: string, criteria: unknown, as?: string): Promise<Response>;
}

export async function createExportWorld(kind: DatabaseKind): Promise<ExportWorld> {
  const connection = kind === "postgres" ? await createTestDatabase() : await connectDatabase();
  const root = await mkdtemp(join(tmpdir(), "async-uploads-exports-"));
  const faults: StorageFaults = { failWrites: false };
  const storage = streamingFilesystem(root, faults);
  const suffix = randomBytes(5).toString("hex");
  const bossSchema = `pgboss_${suffix}`;
  const fanout = postgresFanout(connection.db, { channel: `export_test_${suffix}` });
  const delivered: LiveMessage[] = [];
  const unsubscribe = await fanout.subscribe((message) => {
    if (message.event.startsWith("export")) delivered.push(message);
  });
  const instances: AsyncUploads[] = [];
  return {
    kind,
    db: connection.db,
    root,
    storage,
    faults,
    bossSchema,
    delivered,
    async instance(options = {}) {
      const { register, start = true, ...rest } = options;
      const uploads = createAsyncUploads({
        db: connection.db,
        secret: TEST_SECRET,
        storage,
        getPrincipal: (c) => c.req.header("x-principal") ?? null,
        live: { fanout },
        ...rest,
        processing: { schema: bossSchema, pollingIntervalSeconds: 0.5, ...rest.processing },
      });
      register?.(uploads);
      instances.push(uploads);
      if (start) await uploads.start();
      const request: ExportInstance["request"] = (path, init = {}) => {
        const { as = "alice", ...requestInit } = init;
        const headers = new Headers(requestInit.headers);
        if (as !== null) headers.set("x-principal", as);
        return Promise.resolve(uploads.routes.request(`http://localhost${path}`, { ...requestInit, headers }));
      };
      return {
        uploads,
        request,
        requestExport: (exportId, criteria, as = "alice") =>
          request("/exports", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ exportId, criteria }), as }),
      };
    },
    async close() {
      await Promise.allSettled(instances.map((uploads) => uploads.close()));
      await unsubscribe();
      if (kind === "postgres") await connection.db.execute(sql.raw(`drop schema if exists "${bossSchema}" cascade`)).catch(() => {});
      await connection.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** An export's row. */
export async function rowOf(db: Database, id: string) {
  const [row] = await db.select().from(asyncExport).where(eq(asyncExport.id, id));
  return row;
}

/** Waits (polling the database, the truth) until the export's status is one of `statuses`. */
export async function waitForStatus(db: Database, id: string, statuses: ExportStatus[], timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await rowOf(db, id);
    if (row && statuses.includes(row.status)) return row;
    if (Date.now() > deadline) throw new Error(`export ${id} is ${row?.status ?? "gone"}, still not ${statuses.join(" or ")} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The `export` events delivered for one export on its own topic, as their data. */
export function eventsOf(world: ExportWorld, id: string): ExportSummary[] {
  return world.delivered.filter((message) => message.topic === `export:${id}` && message.event === "export").map((message) => message.data as ExportSummary);
}

/** Every file under the storage root whose path holds `part` (an export's id): what an export left behind. */
export async function filesMentioning(root: string, part: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true }).catch(() => [] as string[]);
  const files: string[] = [];
  for (const entry of entries) {
    if (!entry.includes(part)) continue;
    if ((await stat(join(root, entry))).isFile()) files.push(entry);
  }
  return files;
}

/** pg-boss jobs (any queue, any state) of one export. */
export async function jobsOf(world: ExportWorld, id: string): Promise<number> {
  const result = await world.db.execute(sql`select count(*)::int as n from ${sql.identifier(world.bossSchema)}.job where data->>'id' = ${id}`);
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as { n: number }[];
  return rows[0]!.n;
}
