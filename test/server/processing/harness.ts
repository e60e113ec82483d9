import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq, sql } from "drizzle-orm";
import type { ProcessingState } from "../../../shared/processing";
import type { UploadUrlResponse } from "../../../shared/schemas";
import { createAsyncUploads, type AsyncUploads, type AsyncUploadsOptions } from "../../../server/create-async-uploads";
import { connectDatabase, type Database } from "../../../server/db/database";
import { asyncTempFile } from "../../../server/db/schema";
import { postgresFanout, type LiveMessage } from "../../../server/live/fanout";
import { filesystemStorage } from "../../../server/storage/filesystem";
import type { StorageDriver } from "../../../server/storage/types";
import { createTestDatabase } from "../../helpers/db";
import { TEST_SECRET } from "../../helpers/uploads";

export type DatabaseKind = "postgres" | "pglite";

/** The kinds a processing suite runs on: PGlite always, PostgreSQL when `DATABASE_URL` names one. */
export const DATABASE_KINDS: DatabaseKind[] = process.env.DATABASE_URL ? ["postgres", "pglite"] : ["pglite"];

/** One database, one storage root and one NOTIFY channel, shared by the instances of a test file. */
export interface ProcessingWorld {
  kind: DatabaseKind;
  db: Database;
  storage: StorageDriver;
  /** pg-boss's schema for this file (dropped at close on PostgreSQL). */
  bossSchema: string;
  /** Every `processing` event delivered through the fan-out (so: committed), in arrival order. */
  delivered: LiveMessage[];
  /** For each delivered event, the version its row had in the database when the event arrived. */
  arrivals: Promise<{ eventVersion: number; rowVersion: number | undefined }>[];
  /** A new `createAsyncUploads` on this world (one "instance"); `register` adds its fields before start(). */
  instance(options?: Partial<AsyncUploadsOptions> & { register?: (uploads: AsyncUploads) => void; start?: boolean }): Promise<TestInstance>;
  close(): Promise<void>;
}

export interface TestInstance {
  uploads: AsyncUploads;
  request(path: string, init?: RequestInit & { as?: string | null }): Promise<Response>;
  /** Issues an upload URL and stores `bytes` at it (filesystem storage, through the routes). */
  upload(fieldId: string, filename: string, bytes: Uint8Array<ArrayBuffer>, options?: { as?: string; contentType?: string; store?: boolean }): Promise<UploadUrlResponse>;
  /** `POST /process {key}` as `as`. */
  process(key: string, as?: string): Promise<Response>;
}

/** Builds the world of one suite on `kind`. */
export async function createProcessingWorld(kind: DatabaseKind): Promise<ProcessingWorld> {
  const connection = kind === "postgres" ? await createTestDatabase() : await connectDatabase();
  const root = await mkdtemp(join(tmpdir(), "async-uploads-processing-"));
  const storage = filesystemStorage({ root });
  const suffix = randomBytes(5).toString("hex");
  const bossSchema = `pgboss_${suffix}`;
  const fanout = postgresFanout(connection.db, { channel: `proc_test_${suffix}` });
  const delivered: LiveMessage[] = [];
  const arrivals: ProcessingWorld["arrivals"] = [];
  const unsubscribe = await fanout.subscribe((message) => {
    if (message.event !== "processing") return;
    delivered.push(message);
    const state = message.data as ProcessingState;
    arrivals.push(stateOf(connection.db, state.fileId).then((row) => ({ eventVersion: state.version, rowVersion: row?.version })));
  });
  const instances: AsyncUploads[] = [];

  return {
    kind,
    db: connection.db,
    storage,
    bossSchema,
    delivered,
    arrivals,
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
      const request: TestInstance["request"] = (path, init = {}) => {
        const { as = "alice", ...requestInit } = init;
        const headers = new Headers(requestInit.headers);
        if (as !== null) headers.set("x-principal", as);
        return Promise.resolve(uploads.routes.request(`http://localhost${path}`, { ...requestInit, headers }));
      };
      const json = (body: unknown, as: string | null) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), as });
      return {
        uploads,
        request,
        async upload(fieldId, filename, bytes, { as = "alice", contentType = "text/plain", store = true } = {}) {
          const response = await request("/upload-url", json({ fieldId, filename, contentType, size: bytes.length }, as));
          if (response.status !== 201) throw new Error(`upload-url answered ${response.status}: ${await response.text()}`);
          const target = (await response.json()) as UploadUrlResponse;
          if (store) {
            const put = await request(target.upload.url, { method: "PUT", headers: target.upload.headers, body: bytes, as: null });
            if (put.status !== 201) throw new Error(`the upload answered ${put.status}: ${await put.text()}`);
          }
          return target;
        },
        process: (key, as = "alice") => request("/process", json({ key }, as)),
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

/** The processing columns of an upload's row. */
export async function stateOf(db: Database, fileId: string) {
  const [row] = await db
    .select({ state: asyncTempFile.processingState, step: asyncTempFile.processingStep, reason: asyncTempFile.processingReason, version: asyncTempFile.processingVersion })
    .from(asyncTempFile)
    .where(eq(asyncTempFile.id, fileId));
  return row;
}

/** Waits (polling the database, the truth) until the upload's state is one of `states`; fails after `timeoutMs`. */
export async function waitForState(db: Database, fileId: string, states: ProcessingState["state"][], timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await stateOf(db, fileId);
    if (row?.state && states.includes(row.state)) return row;
    if (Date.now() > deadline) throw new Error(`upload ${fileId} is ${JSON.stringify(row)}, still not ${states.join(" or ")} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The `processing` events delivered for one upload, as their data. */
export function eventsOf(world: ProcessingWorld, fileId: string): ProcessingState[] {
  return world.delivered.filter((message) => message.topic === `upload:${fileId}`).map((message) => message.data as ProcessingState);
}
