import { fileURLToPath } from "node:url";
import { PgliteDatabase } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import type { Database } from "async-uploads/server";

/** The demo's own migrations (`demo/drizzle.config.ts`), kept apart from the library's. */
const DEMO_MIGRATIONS = fileURLToPath(new URL("./drizzle", import.meta.url));

/**
 * Applies the demo's migrations the way any drizzle app does, into drizzle's default journal. The
 * library's migrations keep a journal of their own (`connectDatabase` applied them already), so the
 * two never skip each other, whichever runs first.
 */
export async function migrateDemo(db: Database, options: { migrationsSchema?: string } = {}): Promise<void> {
  const config = { migrationsFolder: DEMO_MIGRATIONS, ...options };
  if (db instanceof PgliteDatabase) await migratePglite(db, config);
  else await migratePostgres(db as PostgresJsDatabase, config);
}
