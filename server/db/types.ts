import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";

/** Any drizzle PostgreSQL database or transaction: postgres.js, PGlite, or a `tx` inside either. */
// biome-ignore lint: drizzle's own generic parameters
export type Database = PgDatabase<PgQueryResultHKT, any, any>;
