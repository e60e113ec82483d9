import { randomBytes } from "node:crypto";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../../server/db/database";
import { MIGRATIONS_TABLE, migrateAsyncUploads } from "../../../server/db/migrate";
import libraryJournal from "../../../drizzle/meta/_journal.json";

// An app with its own drizzle-kit migrations, one dated before the library's and one after: with one
// shared journal, drizzle applies only what is newer than the journal's last entry, so whichever side
// ran second lost its older migrations without a word. Each side now keeps its own journal.
const LIBRARY_WHEN = libraryJournal.entries[0]!.when;
const APP_MIGRATIONS = [
  { tag: "0000_notes", when: LIBRARY_WHEN - 86_400_000, sql: `CREATE TABLE "app_note" ("id" serial PRIMARY KEY, "body" text NOT NULL);\n--> statement-breakpoint\nINSERT INTO "app_note" ("body") VALUES ('from 0000');` },
  { tag: "0001_note_tags", when: LIBRARY_WHEN + 86_400_000, sql: `ALTER TABLE "app_note" ADD COLUMN "tag" text;\n--> statement-breakpoint\nINSERT INTO "app_note" ("body", "tag") VALUES ('from 0001', 't');` },
];

async function writeAppMigrations(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), "app-migrations-"));
  await mkdir(join(folder, "meta"));
  const entries = APP_MIGRATIONS.map(({ tag, when }, idx) => ({ idx, version: "7", when, tag, breakpoints: true }));
  await writeFile(join(folder, "meta/_journal.json"), JSON.stringify({ version: "7", dialect: "postgresql", entries }));
  for (const { tag, sql: text } of APP_MIGRATIONS) await writeFile(join(folder, `${tag}.sql`), text);
  return folder;
}

interface Target {
  db: Database;
  /** The app's migrations, with drizzle's own migrator and default journal table. */
  migrateApp(): Promise<void>;
  migrateLibrary(): Promise<void>;
  journalSchema: string;
  close(): Promise<void>;
}

type Opener = (appMigrations: string) => Promise<Target>;

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A fresh schema on the real PostgreSQL server, dropped on close; the journals live in it too. */
const openPostgres: Opener = async (appMigrations) => {
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const client = postgres(databaseUrl, { onnotice: () => {}, max: 2, connection: { search_path: schema } });
  await client.unsafe(`create schema "${schema}"`);
  const db = drizzlePostgres(client);
  return {
    db,
    journalSchema: schema,
    migrateApp: () => migratePostgres(db, { migrationsFolder: appMigrations, migrationsSchema: schema }),
    migrateLibrary: () => migrateAsyncUploads(db, { migrationsSchema: schema }),
    async close() {
      await client.unsafe(`drop schema "${schema}" cascade`);
      await client.end({ timeout: 5 });
    },
  };
};

/** PGlite in memory, with both journals in drizzle's default schema as an embedded app would have them. */
const openPglite: Opener = async (appMigrations) => {
  const client = new PGlite();
  const db = drizzlePglite(client);
  return {
    db,
    journalSchema: "drizzle",
    migrateApp: () => migratePglite(db, { migrationsFolder: appMigrations }),
    migrateLibrary: () => migrateAsyncUploads(db),
    close: () => client.close(),
  };
};

const ORDERS = [
  { name: "the library first, then the app", first: "migrateLibrary", second: "migrateApp" },
  { name: "the app first, then the library", first: "migrateApp", second: "migrateLibrary" },
] as const;

describe.each([
  { database: "PostgreSQL", open: openPostgres },
  { database: "PGlite", open: openPglite },
])("migrations beside an app's own drizzle migrations on $database", ({ open }) => {
  let appMigrations: string;
  beforeAll(async () => {
    appMigrations = await writeAppMigrations();
  });
  afterAll(() => rm(appMigrations, { recursive: true, force: true }));

  // PGlite compiles its WebAssembly on each open: seconds on an idle machine, far more on a busy one.
  it.each(ORDERS)("$name, then both again: every migration of both sides runs exactly once", { timeout: 120_000 }, async ({ first, second }) => {
    const target = await open(appMigrations);
    try {
      await target[first]();
      await target[second]();
      await target.migrateApp();
      await target.migrateLibrary();

      // Each app migration inserted one row: a migration skipped or applied twice changes this.
      const notes = await rows<{ body: string; tag: string | null }>(target.db, sql`select body, tag from app_note order by id`);
      expect(notes).toEqual([
        { body: "from 0000", tag: null },
        { body: "from 0001", tag: "t" },
      ]);
      expect(await rows(target.db, sql`select id from async_temp_file`)).toEqual([]);
      const journal = (table: string) => rows<{ n: number }>(target.db, sql`select count(*)::int as n from ${sql.identifier(target.journalSchema)}.${sql.identifier(table)}`);
      expect(await journal("__drizzle_migrations")).toEqual([{ n: APP_MIGRATIONS.length }]);
      expect(await journal(MIGRATIONS_TABLE)).toEqual([{ n: libraryJournal.entries.length }]);
    } finally {
      await target.close();
    }
  });
});

async function rows<T>(db: Database, query: ReturnType<typeof sql>): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as T[] | { rows: T[] };
  return Array.isArray(result) ? result : result.rows;
}
