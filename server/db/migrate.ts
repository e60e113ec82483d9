import { fileURLToPath } from "node:url";
import { readMigrationFiles } from "drizzle-orm/migrator";
import type { Database } from "./types.js";

/** The library's SQL migrations (drizzle-kit output); the build copies them to `dist/drizzle`. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../drizzle", import.meta.url));

/**
 * The library records its migrations in a journal of its own, never in drizzle's default
 * `drizzle.__drizzle_migrations`: drizzle applies only migrations dated after the newest entry of a
 * journal, so sharing the app's journal would silently skip whichever side's migration is older.
 */
export const MIGRATIONS_TABLE = "__async_uploads_migrations";

export interface MigrateOptions {
  /** Schema holding the journal table. @default "drizzle" (drizzle-kit's own default) */
  migrationsSchema?: string;
}

/**
 * Creates or updates the library's tables (only `async_temp_file` today) in `db`, recording what it
 * applied in its own journal, so it can run before or after the app's own drizzle migrations, any
 * number of times. Works on any drizzle PostgreSQL database (postgres.js, node-postgres, PGlite).
 */
export async function migrateAsyncUploads(db: Database, options: MigrateOptions = {}): Promise<void> {
  const config = { migrationsFolder: MIGRATIONS_FOLDER, migrationsTable: MIGRATIONS_TABLE, migrationsSchema: options.migrationsSchema ?? "drizzle" };
  // What drizzle's own per-driver `migrate()` functions do, identically for every PostgreSQL driver;
  // calling it here spares the app from telling us which driver it uses.
  const internals = db as unknown as { dialect?: { migrate?: (...args: unknown[]) => Promise<void> }; session?: unknown };
  if (typeof internals.dialect?.migrate !== "function" || internals.session === undefined) {
    throw new TypeError("[async-uploads] migrateAsyncUploads(db) needs a drizzle PostgreSQL database (drizzle-orm/postgres-js, node-postgres or pglite)");
  }
  await internals.dialect.migrate(readMigrationFiles(config), internals.session, config);
}
