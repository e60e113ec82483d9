import { randomBytes } from "node:crypto";
import { connectDatabase, type Connection } from "../../server/db/database";

/**
 * A migrated database for one test file: a fresh schema on the PostgreSQL server named by
 * `DATABASE_URL` (dropped afterwards), or an in-memory PGlite when it is unset.
 */
export async function createTestDatabase(): Promise<Connection & { url?: string; schema?: string }> {
  const url = process.env.DATABASE_URL;
  if (!url) return connectDatabase();
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const connection = await connectDatabase({ url, schema });
  return {
    ...connection,
    url,
    schema,
    async close() {
      const { default: postgres } = await import("postgres");
      await connection.close();
      const admin = postgres(url, { onnotice: () => {}, max: 1 });
      await admin.unsafe(`drop schema if exists "${schema}" cascade`);
      await admin.end({ timeout: 5 });
    },
  };
}
