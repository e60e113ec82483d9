import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { eq } from "drizzle-orm";
import type { CommitResult } from "../../server/commit/commit";
import { connectDatabase, type Connection } from "../../server/db/database";
import { asyncTempFile, type AsyncTempFile } from "../../server/db/schema";
import { createAsyncUploads, type AsyncUploads } from "../../server/create-async-uploads";
import { filesystemStorage, type FilesystemStorage } from "../../server/storage/filesystem";
import type { StorageDriver } from "../../server/storage/types";
import { PDF_BYTES, TEST_SECRET } from "../helpers/uploads";
import { FAULT_FIELD, registerFaultFields } from "./fixtures/fields";
import { spawnCommitChild, type Child } from "./fixtures/spawn-child";
import { listFiles } from "../helpers/files";

/**
 * A fresh schema on the PostgreSQL server of `DATABASE_URL`, whose connections carry their own
 * `application_name`, so that a second (admin) connection can terminate exactly them, as a database
 * restart or a network cut would.
 */
export interface NamedDatabase extends Connection {
  url: string;
  schema: string;
  /** The URL the app (and a child process) connects with, application name included. */
  appUrl: string;
  /** Terminates every backend of the app; returns how many there were. */
  terminate(): Promise<number>;
}

export async function createNamedDatabase(): Promise<NamedDatabase> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("createNamedDatabase needs DATABASE_URL");
  const { default: postgres } = await import("postgres");
  const schema = `f_${randomBytes(6).toString("hex")}`;
  const applicationName = `async_uploads_faults_${schema}`;
  const appUrl = `${url}${url.includes("?") ? "&" : "?"}application_name=${applicationName}`;
  const connection = await connectDatabase({ url: appUrl, schema });
  const admin = postgres(url, { onnotice: () => {}, max: 1 });
  return {
    ...connection,
    url,
    schema,
    appUrl,
    async terminate() {
      const [row] = await admin<{ n: number }[]>`
        select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where application_name = ${applicationName}`;
      return row?.n ?? 0;
    },
    async close() {
      await connection.close().catch(() => {});
      await admin.unsafe(`drop schema if exists "${schema}" cascade`);
      await admin.end({ timeout: 5 });
    },
  };
}

export interface FaultApp {
  uploads: AsyncUploads;
  disk: FilesystemStorage;
  root: string;
  /** Uploads PDF_BYTES through the routes as alice and returns the temp key. */
  uploaded(): Promise<string>;
  /** Saves `key` into record `instanceId` of the fault field as alice, as the app would. */
  save(key: string, instanceId: string): Promise<CommitResult>;
  /** The temp-file row of `key`, if any. */
  rowOf(key: string): Promise<AsyncTempFile | undefined>;
  /** The same save in a child process (fixtures/commit-child.ts) on this database and disk, which stops where `mode` says. */
  commitInChild(mode: "kill-after-copy" | "drop-before-copy", key: string, instanceId: string): Child;
  /** Every file under the root, as keys. */
  files(): Promise<string[]>;
  close(): Promise<void>;
}

/** The uploads of the fault tests: filesystem storage (optionally wrapped) in a temp dir, the fault fields. */
export async function createFaultApp(database: NamedDatabase, wrapStorage: (disk: FilesystemStorage) => StorageDriver = (disk) => disk, root?: string): Promise<FaultApp> {
  const dir = root ?? (await mkdtemp(join(tmpdir(), "async-uploads-faults-")));
  const disk = filesystemStorage({ root: dir });
  const uploads = createAsyncUploads({
    db: database.db,
    secret: TEST_SECRET,
    storage: disk,
    getPrincipal: (c) => c.req.header("x-principal") ?? null,
    log: () => {},
  });
  registerFaultFields(uploads, wrapStorage(disk));
  return {
    uploads,
    disk,
    root: dir,
    async uploaded() {
      const issued = await uploads.routes.request("http://localhost/upload-url", {
        method: "POST",
        headers: { "content-type": "application/json", "x-principal": "alice" },
        body: JSON.stringify({ fieldId: "faults.file", filename: "a.pdf", contentType: "application/pdf", size: PDF_BYTES.length }),
      });
      if (issued.status !== 201) throw new Error(`upload-url answered ${issued.status}: ${await issued.text()}`);
      const { key } = (await issued.json()) as { key: string };
      // Written straight to the disk: this app's field storage may be a wrapper, not the route's driver.
      await disk.write(key, [PDF_BYTES], { size: PDF_BYTES.length });
      return key;
    },
    save: (key, instanceId) =>
      uploads.transaction((_tx, commit) => commit({ fieldId: FAULT_FIELD, value: key, principal: "alice", instanceId })),
    rowOf: async (key) => (await database.db.select().from(asyncTempFile).where(eq(asyncTempFile.key, key)))[0],
    commitInChild: (mode, key, instanceId) =>
      spawnCommitChild({
        FAULT_MODE: mode,
        FAULT_DATABASE_URL: database.appUrl,
        FAULT_SCHEMA: database.schema,
        FAULT_ROOT: dir,
        FAULT_KEY: key,
        FAULT_INSTANCE: instanceId,
      }),
    files: async () => (await listFiles(dir)).map((path) => relative(dir, path)).sort(),
    close: () => (root ? Promise.resolve() : rm(dir, { recursive: true, force: true })),
  };
}

