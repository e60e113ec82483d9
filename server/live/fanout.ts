import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import type { Database } from "../db/database.js";

/** One message for a topic, as it travels between instances. */
export interface LiveMessage {
  topic: string;
  event: string;
  data: unknown;
  /** Orders the states of one topic; 0 when the publisher gave none. */
  version?: number;
}

/**
 * How messages reach every instance of the app. `postgresFanout` is the built-in one (PostgreSQL
 * LISTEN/NOTIFY); another engine (Redis pub/sub) fits the same two methods.
 */
export interface Fanout {
  /** Delivers to every instance; with `tx` (a drizzle transaction) only after it commits, never if it rolls back. */
  publish(message: LiveMessage, tx?: Database): Promise<void>;
  /** Optional: many messages in order, as `publish` would send them one by one, in fewer round trips. */
  publishMany?(messages: readonly LiveMessage[], tx?: Database): Promise<void>;
  /**
   * Starts receiving every instance's messages (including this one's); resolves to the way to stop.
   * `onListening` is called each time listening starts, so again after the engine reconnected on its
   * own (messages published in between are lost: the caller lets its streams catch up).
   */
  subscribe(onMessage: (message: LiveMessage) => void, onListening?: () => void): Promise<() => Promise<void>>;
}

export interface PostgresFanoutOptions {
  /**
   * The NOTIFY channel. Instances that should hear each other use the same one.
   * @default "async_uploads_live", plus "_<schema>" when the database's current schema is not "public"
   * (so apps, or test files, in separate schemas of one database do not hear each other)
   */
  channel?: string;
}

/** Messages per statement of `publishMany` (bound parameters stay far below PostgreSQL's 65,535). */
const PUBLISH_MANY_AT_ONCE = 500;
/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more. */
export const NOTIFY_PAYLOAD_LIMIT = 7999;
const DEFAULT_CHANNEL = "async_uploads_live";
/** Lower case only: PGlite's `listen` folds an unquoted name to lower case, `pg_notify` does not. */
const CHANNEL_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Fan-out through PostgreSQL LISTEN/NOTIFY on the app's own database: `pg_notify` on the given
 * transaction (PostgreSQL delivers it when that transaction commits, and drops it on rollback) and
 * `listen` on the driver (postgres.js keeps one dedicated connection for it; PGlite listens in process).
 */
export function postgresFanout(db: Database, options: PostgresFanoutOptions = {}): Fanout {
  if (options.channel !== undefined && !CHANNEL_NAME.test(options.channel)) {
    throw new Error(`[async-uploads] live channel "${options.channel}" must be lower-case letters, digits and _ (at most 63)`);
  }
  let channel: Promise<string> | undefined;
  // Looked up on the executor at hand: with PGlite, a query on db while a transaction is open would wait for it for ever.
  const channelName = (executor: Database = db) => {
    channel ??= options.channel !== undefined ? Promise.resolve(options.channel) : defaultChannel(executor);
    // A failed look-up (database down) is asked again next time rather than remembered.
    channel.catch(() => (channel = undefined));
    return channel;
  };

  return {
    async publish(message, tx) {
      const payload = encodeMessage(message);
      const executor = tx ?? db;
      await executor.execute(sql`select pg_notify(${await channelName(executor)}, ${payload})`);
    },
    async publishMany(messages, tx) {
      const executor = tx ?? db;
      const name = await channelName(executor);
      // One statement per PUBLISH_MANY_AT_ONCE messages; unnest … with ordinality keeps their order.
      for (let i = 0; i < messages.length; i += PUBLISH_MANY_AT_ONCE) {
        const payloads = messages.slice(i, i + PUBLISH_MANY_AT_ONCE).map((message) => sql`${encodeMessage(message)}`);
        await executor.execute(
          sql`select pg_notify(${name}, p.payload) from unnest(array[${sql.join(payloads, sql`, `)}]::text[]) with ordinality as p(payload, n) order by p.n`,
        );
      }
    },
    async subscribe(onMessage, onListening) {
      const name = await channelName();
      // postgres.js re-listens after a reconnect with a listener of its own, which the first `unlisten`
      // no longer removes: this flag keeps a stopped subscription silent whatever the driver keeps.
      let active = true;
      const onPayload = (payload: string) => {
        const message = active ? decodeMessage(payload) : null;
        if (message) onMessage(message);
      };
      const unlisten = await listen(db, name, onPayload, () => active && onListening?.());
      return async () => {
        active = false;
        await unlisten();
      };
    },
  };
}

/** The NOTIFY payload of a message; refuses one PostgreSQL would refuse, with the reason. */
export function encodeMessage(message: LiveMessage): string {
  const payload = JSON.stringify({ t: message.topic, e: message.event, d: message.data, v: message.version ?? 0 });
  const bytes = Buffer.byteLength(payload);
  if (bytes > NOTIFY_PAYLOAD_LIMIT) {
    throw new Error(
      `[async-uploads] live event "${message.event}" on "${message.topic}" is ${bytes} bytes once encoded; ` +
        `PostgreSQL NOTIFY carries at most ${NOTIFY_PAYLOAD_LIMIT} bytes. Publish ids and versions, and let the page fetch the rest.`,
    );
  }
  return payload;
}

/** A message from a NOTIFY payload, or null for one that is not ours (someone else notifying on the channel). */
export function decodeMessage(payload: string): LiveMessage | null {
  try {
    const raw = JSON.parse(payload) as { t?: unknown; e?: unknown; d?: unknown; v?: unknown };
    if (typeof raw.t !== "string" || typeof raw.e !== "string" || typeof raw.v !== "number") return null;
    return { topic: raw.t, event: raw.e, data: raw.d, version: raw.v };
  } catch {
    return null;
  }
}

async function defaultChannel(db: Database): Promise<string> {
  const rows = (await db.execute(sql`select current_schema() as schema`)) as unknown;
  // postgres.js answers an array of rows; PGlite an object with `rows`.
  const list = Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows;
  const schema = (list[0] as { schema: string | null } | undefined)?.schema ?? "public";
  if (schema === "public") return DEFAULT_CHANNEL;
  const suffix = schema.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  const name = `${DEFAULT_CHANNEL}_${suffix}`;
  // Long or folded schema names get a hash instead, so two schemas never share a channel by accident.
  if (name.length <= 63 && suffix === schema) return name;
  return `${DEFAULT_CHANNEL}_${createHash("sha256").update(schema).digest("hex").slice(0, 32)}`;
}

type PostgresJsListen = (channel: string, onNotify: (payload: string) => void, onListen: () => void) => Promise<{ unlisten(): Promise<void> }>;
type PgliteListen = (channel: string, onNotify: (payload: string) => void) => Promise<() => Promise<void>>;

/** LISTEN through whichever driver drizzle was given: postgres.js's `Sql` is a function, PGlite's client an object. */
async function listen(db: Database, channel: string, onPayload: (payload: string) => void, onListening: () => void): Promise<() => Promise<void>> {
  const client = (db as unknown as { $client?: unknown }).$client;
  const listenOf = (client as { listen?: unknown } | undefined)?.listen;
  if (typeof listenOf !== "function") {
    throw new Error("[async-uploads] live events need a postgres.js or PGlite drizzle database (db.$client.listen)");
  }
  if (typeof client === "function") {
    // postgres.js calls `onListen` after the first LISTEN and after every re-LISTEN following a reconnect.
    const request = await (listenOf as PostgresJsListen).call(client, channel, onPayload, onListening);
    return () => request.unlisten();
  }
  const unlisten = await (listenOf as PgliteListen).call(client, channel, onPayload);
  onListening(); // PGlite runs in process: its LISTEN never reconnects
  return () => unlisten();
}
