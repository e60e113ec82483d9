import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { connectDatabase, type Connection } from "../../server/db/database";
import { onInterrupt } from "./cleanup";

/** The issue asks for the real PostgreSQL insert, so the bench never falls back to PGlite. */
export const BENCH_DATABASE_URL = process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";

export interface BenchDatabase extends Connection {
  url: string;
  schema: string;
  /** Empties `async_temp_file` (between runs, so every run starts from the same table). */
  truncate(): Promise<void>;
  /** Rows in `async_temp_file`. */
  count(): Promise<number>;
  /** Closes the connection and drops the schema. */
  close(): Promise<void>;
}

/** A migrated fresh schema for one bench script; child servers connect to it with `connectToSchema`. */
export async function createBenchDatabase(): Promise<BenchDatabase> {
  const schema = `bench_${randomBytes(5).toString("hex")}`;
  const connection = await connectDatabase({ url: BENCH_DATABASE_URL, schema });
  const sql = postgres(BENCH_DATABASE_URL, { onnotice: () => {}, max: 1, connection: { search_path: schema } });
  // If the run is interrupted: never leave bench schemas behind.
  const forget = onInterrupt(() => dropSchema(schema));
  return {
    ...connection,
    url: BENCH_DATABASE_URL,
    schema,
    async truncate() {
      await sql`truncate async_temp_file`;
    },
    async count() {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from async_temp_file`;
      return row?.n ?? 0;
    },
    async close() {
      forget();
      await sql.end({ timeout: 5 });
      await connection.close();
      await dropSchema(schema);
    },
  };
}

/** In a child server: the bench schema the parent created (migrations are already applied). */
export function connectToSchema(url: string, schema: string): Promise<Connection> {
  return connectDatabase({ url, schema });
}

async function dropSchema(schema: string): Promise<void> {
  const admin = postgres(BENCH_DATABASE_URL, { onnotice: () => {}, max: 1 });
  try {
    await admin.unsafe(`drop schema if exists "${schema}" cascade`);
  } finally {
    await admin.end({ timeout: 5 });
  }
}
