import type { PgBoss } from "pg-boss";
import type { Database } from "../db/types.js";
import { importPeer } from "../peer-dependency.js";
import type { BossConnectionOptions } from "./options.js";

/**
 * Creates (not starts) a pg-boss on the app's database: on PGlite over the very same instance
 * (`fromPglite`, one connection, in-process), on postgres.js through pg-boss's own `pg` pool to the
 * same server, because pg-boss's maintenance runs multi-statement transactions that postgres.js only
 * allows on a reserved connection, and drizzle's postgres.js client hands dates back as strings.
 * Jobs are still enqueued inside our drizzle transactions (`fromDrizzle(tx, sql)` in `jobs.ts`).
 */
export async function createBoss(db: Database, options: BossConnectionOptions = {}): Promise<PgBoss> {
  const pgBoss = await importPeer(() => import("pg-boss"), ["pg-boss"], "Background jobs (a field's processing steps, or exports)");
  const schema = options.schema ?? "pgboss";
  // The monitor every 15 s (pg-boss: 60): it is what takes back a job whose worker stopped sending
  // heartbeats, so a dead worker's export is retried elsewhere within a minute (issue 15).
  // `schedule` stays on (pg-boss's default): it is what turns the expired-export cleanup's cron row
  // into a job each tick (one per tick across instances); with it off on every instance, nothing ever runs it.
  const common = {
    schema, schedule: true, useListenNotify: true, application_name: "async-uploads jobs", monitorIntervalSeconds: 15, superviseIntervalSeconds: 15,
  } as const;
  const client = (db as { $client?: unknown }).$client;
  if (isPglite(client)) {
    return new pgBoss.PgBoss({ ...common, db: pgBoss.fromPglite(client), backend: "pglite" });
  }
  const max = options.max ?? 4;
  if (options.connectionString) return new pgBoss.PgBoss({ ...common, connectionString: options.connectionString, max });
  if (isPostgresJs(client)) return new pgBoss.PgBoss({ ...common, ...pgSettingsOf(client.options), max });
  throw new Error(
    "[async-uploads] upload processing: cannot tell how pg-boss should connect to this database (not postgres.js, not PGlite); pass processing.connectionString",
  );
}

type PgliteClient = Parameters<typeof import("pg-boss").fromPglite>[0];

function isPglite(client: unknown): client is PgliteClient {
  const candidate = client as Partial<Record<"query" | "exec" | "listen", unknown>> | null;
  return typeof candidate === "object" && candidate !== null && typeof candidate.query === "function" && typeof candidate.exec === "function";
}

interface PostgresJsOptions {
  host: string[];
  port: number[];
  user: string;
  pass: string | (() => string | Promise<string>);
  database: string;
  ssl: unknown;
}

function isPostgresJs(client: unknown): client is { options: PostgresJsOptions } {
  const options = (client as { options?: Partial<PostgresJsOptions> } | null)?.options;
  return typeof client === "function" && Array.isArray(options?.host) && Array.isArray(options?.port);
}

/** postgres.js's resolved settings in `pg`'s words (the first host of a multi-host URL). */
function pgSettingsOf(options: PostgresJsOptions) {
  const { ssl } = options;
  return {
    host: options.host[0],
    port: options.port[0],
    user: options.user,
    password: options.pass,
    database: options.database,
    // postgres.js takes sslmode words; pg takes true/false or tls options.
    ssl: ssl === false || ssl === undefined || ssl === "disable" ? false : typeof ssl === "object" ? ssl : ssl === "verify-full" || ssl === true ? true : { rejectUnauthorized: false },
  };
}
