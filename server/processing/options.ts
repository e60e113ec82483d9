// The options of background jobs, apart from the modules that touch pg-boss, so that an app's types
// (and the published .d.ts) never need pg-boss's own unless the app uses processing.

/** How pg-boss reaches the app's database. */
export interface BossConnectionOptions {
  /** pg-boss's own schema (its tables live there, apart from ours). @default "pgboss" */
  schema?: string;
  /**
   * postgres.js apps: the URL pg-boss's own small `pg` pool connects with. By default it is read from
   * the drizzle client's settings (host, port, user, password, database, ssl). Not used with PGlite.
   */
  connectionString?: string;
  /** Connections of that pool. @default 4 */
  max?: number;
}

/** `createAsyncUploads({ processing })`: where and how background jobs (upload processing, exports) run. */
export interface ProcessingOptions extends BossConnectionOptions {
  /** Run the workers in this process; `false` for web-only instances (another process runs `start()` with workers). @default true */
  worker?: boolean;
  /** Jobs of each queue this process runs at once; a hung job holds one slot until its timeout. @default 4 */
  concurrency?: number;
  /** How often an idle worker polls when no NOTIFY woke it, in seconds (≥ 0.5). @default 2 */
  pollingIntervalSeconds?: number;
}

/** What a worker is given besides the engine. */
export interface WorkerSettings {
  concurrency: number;
  pollingIntervalSeconds: number;
}
