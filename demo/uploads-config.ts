import { join } from "node:path";
import type { AsyncUploads } from "async-uploads/server";
import { connectDatabase, type Connection } from "async-uploads/server";
import type { StorageDriver } from "async-uploads/server";
import { ConfigError, readEnvConfig, resolveSecret, type DemoEnvConfig } from "./config";
import { createDemoUploads } from "./fields";
import { migrateDemo } from "./migrate";
import { createStorage } from "./storage";

/** The configured database, storage and secret of the demo, opened once. */
export interface DemoRuntime {
  config: DemoEnvConfig;
  secret: string;
  connection: Connection;
  storage: StorageDriver;
  close(): Promise<void>;
}

/**
 * Reads the environment (see `config.ts`), resolves the secret and opens the database (migrations
 * applied) and storage. Problems are thrown as a one-line `ConfigError` naming the setting.
 */
export async function openDemoRuntime(env: Record<string, string | undefined> = process.env): Promise<DemoRuntime> {
  const config = readEnvConfig(env);
  const secret = await resolveSecret(config);
  let storage: StorageDriver;
  try {
    storage = await createStorage(config.storage);
  } catch (error) {
    const names = { filesystem: "DATA_DIR", s3: "the S3_* settings", azure: "AZURE_STORAGE_CONNECTION_STRING" };
    throw new ConfigError(`${names[config.storage.backend]}: ${oneLine(error)}`);
  }
  const connection = await openDatabase(config).catch((error: unknown) => {
    const reason = oneLine(error);
    throw new ConfigError(
      config.databaseUrl
        ? `DATABASE_URL: cannot connect or migrate (${reason})`
        : `DATA_DIR: cannot open the embedded database in ${join(config.dataDir, "pglite")} (${reason}); is another process using it?`,
    );
  });
  return { config, secret, connection, storage, close: () => connection.close() };
}

/** The library's tables (by `connectDatabase`), then the demo's own. */
async function openDatabase(config: DemoEnvConfig): Promise<Connection> {
  const connection = await connectDatabase(config.databaseUrl ? { url: config.databaseUrl } : { dataDir: join(config.dataDir, "pglite") });
  try {
    await migrateDemo(connection.db);
  } catch (error) {
    await connection.close();
    throw error;
  }
  return connection;
}

/**
 * The cleanup command's entry to the demo configuration: the same environment, database, storage and
 * fields as `npm start`. (With the embedded PGlite only one process may open `.data/pglite` at a time,
 * so stop the demo before running cleanup, or use DATABASE_URL.)
 */
export default async function loadUploads(): Promise<{ uploads: AsyncUploads; close(): Promise<void> }> {
  const runtime = await openDemoRuntime();
  const uploads = createDemoUploads({ db: runtime.connection.db, storage: runtime.storage, secret: runtime.secret });
  return { uploads, close: runtime.close };
}

function oneLine(error: unknown): string {
  // drizzle wraps driver errors as "Failed query: <sql>"; the cause says what went wrong.
  const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause : error) : undefined;
  const message = reason ? reason.message || reason.name : String(error);
  return message.replace(/\s+/g, " ").trim().slice(0, 300);
}
