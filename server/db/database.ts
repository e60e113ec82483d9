import { mkdirSync } from "node:fs";
import { importPeer } from "../peer-dependency.js";
import { lockDatabaseDirectory } from "./directory-lock.js";
import { migrateAsyncUploads } from "./migrate.js";
import type { Database } from "./types.js";

export type { Database };

export interface ConnectOptions {
  /** A `postgres://` URL; when absent an embedded PGlite database is used. */
  url?: string;
  /**
   * Where PGlite keeps its files; `undefined` keeps it in memory. One process at a time: a second
   * opener (another process, or this one before `close`) gets a `DatabaseInUseError` naming the owner.
   */
  dataDir?: string;
  /** PostgreSQL schema to work in (tests use a fresh one per run). @default "public" */
  schema?: string;
}

export interface Connection {
  db: Database;
  close(): Promise<void>;
}

/**
 * Opens the database and applies the library's migrations (its own tables and journal only; the app's
 * tables are the app's to migrate), so the app, the cleanup command and the tests start from the same
 * schema. `postgres` (for a URL) or `@electric-sql/pglite` must be installed.
 */
export async function connectDatabase(options: ConnectOptions = {}): Promise<Connection> {
  if (options.url) {
    const { default: postgres } = await importPeer(() => import("postgres"), ["postgres"], "connectDatabase({ url })");
    const { drizzle } = await import("drizzle-orm/postgres-js");
    const client = postgres(options.url, {
      onnotice: () => {},
      max: 10,
      ...(options.schema ? { connection: { search_path: options.schema } } : {}),
    });
    const db = drizzle(client);
    try {
      if (options.schema) await client.unsafe(`create schema if not exists "${options.schema}"`);
      await migrateAsyncUploads(db, { migrationsSchema: options.schema ?? "drizzle" });
    } catch (error) {
      await client.end({ timeout: 1 });
      throw error;
    }
    return { db, close: () => client.end({ timeout: 5 }) };
  }
  const { PGlite } = await importPeer(() => import("@electric-sql/pglite"), ["@electric-sql/pglite"], "connectDatabase() without a url (embedded PGlite)");
  const { drizzle } = await import("drizzle-orm/pglite");
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  // Before PGlite reads a byte: it does not lock its directory, and two processes writing it corrupt it.
  const unlock = options.dataDir ? lockDatabaseDirectory(options.dataDir) : () => {};
  let client: InstanceType<typeof PGlite> | undefined;
  try {
    client = new PGlite(options.dataDir);
    const db = drizzle(client);
    await migrateAsyncUploads(db);
    const opened = client;
    return {
      db,
      async close() {
        try {
          await opened.close();
        } finally {
          unlock();
        }
      },
    };
  } catch (error) {
    await client?.close().catch(() => {});
    unlock();
    throw error;
  }
}
