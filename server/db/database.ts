import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";

/** Any drizzle PostgreSQL database or transaction: postgres.js, PGlite, or a `tx` inside either. */
// biome-ignore lint: drizzle's own generic parameters
export type Database = PgDatabase<PgQueryResultHKT, any, any>;

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../drizzle", import.meta.url));

export interface ConnectOptions {
  /** A `postgres://` URL; when absent an embedded PGlite database is used. */
  url?: string;
  /** Where PGlite keeps its files; `undefined` keeps it in memory. */
  dataDir?: string;
  /** PostgreSQL schema to work in (tests use a fresh one per run). @default "public" */
  schema?: string;
}

export interface Connection {
  db: Database;
  close(): Promise<void>;
}

/**
 * Opens the database and applies the committed drizzle-kit migrations, so the app, the cleanup
 * command and the tests all start from the same schema.
 */
export async function connectDatabase(options: ConnectOptions = {}): Promise<Connection> {
  if (options.url) {
    const { default: postgres } = await import("postgres");
    const { drizzle } = await import("drizzle-orm/postgres-js");
    const { migrate } = await import("drizzle-orm/postgres-js/migrator");
    const client = postgres(options.url, {
      onnotice: () => {},
      max: 10,
      ...(options.schema ? { connection: { search_path: options.schema } } : {}),
    });
    const db = drizzle(client);
    try {
      if (options.schema) await client.unsafe(`create schema if not exists "${options.schema}"`);
      await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER, migrationsSchema: options.schema ?? "drizzle" });
    } catch (error) {
      await client.end({ timeout: 1 });
      throw error;
    }
    return { db, close: () => client.end({ timeout: 5 }) };
  }
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  const { migrate } = await import("drizzle-orm/pglite/migrator");
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const client = new PGlite(options.dataDir);
  const db = drizzle(client);
  await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  return { db, close: () => client.close() };
}
