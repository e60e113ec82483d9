import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import { afterEach, describe, expect, it } from "vitest";
import libraryJournal from "../../../drizzle/meta/_journal.json";
import { MIGRATIONS_FOLDER, MIGRATIONS_TABLE, migrateAsyncUploads } from "../../../server/db/migrate";

// Rows written by an older version must mean the same after the library's later migrations.
// PGlite compiles its WebAssembly on each open: seconds on an idle machine, far more on a busy one.
describe("the library's migrations carry existing rows over", { timeout: 120_000 }, () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  /** A PGlite database migrated up to and including the migration `tag`, in the library's own journal. */
  async function databaseAt(tag: string) {
    const index = libraryJournal.entries.findIndex((entry) => entry.tag === tag);
    expect(index).toBeGreaterThanOrEqual(0);
    const folder = await mkdtemp(join(tmpdir(), "library-migrations-"));
    await cp(MIGRATIONS_FOLDER, folder, { recursive: true });
    await writeFile(join(folder, "meta/_journal.json"), JSON.stringify({ ...libraryJournal, entries: libraryJournal.entries.slice(0, index + 1) }));
    const client = new PGlite();
    const db = drizzle(client);
    await migrate(db, { migrationsFolder: folder, migrationsTable: MIGRATIONS_TABLE });
    cleanups.push(async () => {
      await client.close();
      await rm(folder, { recursive: true, force: true });
    });
    return { db, client };
  }

  const insert = (id: number, columns: Record<string, string | null>) => {
    const values = { key: `async-temp/k${id}`, status: "pending", upload_id: null, error: null, ...columns };
    return sql`insert into async_temp_file (id, key, field_id, principal, original_filename, content_type, declared_size, status, upload_id, error, expires_at)
      values (${`00000000-0000-4000-8000-00000000000${id}`}, ${values.key}, 'f', 'p', 'a.bin', 'application/octet-stream', 10, ${values.status}, ${values.upload_id}, ${values.error}, now())`;
  };

  it("0001: a chunked upload's packed upload_id becomes the storage's upload id and its part size", async () => {
    const { db, client } = await databaseAt("0000_init");
    await db.execute(insert(1, { upload_id: JSON.stringify({ uploadId: "abc123", partSize: 8388608 }) }));
    await db.execute(insert(2, {}));
    await migrateAsyncUploads(db);
    const { rows } = await client.query("select key, upload_id, part_size from async_temp_file order by key");
    expect(rows).toEqual([
      { key: "async-temp/k1", upload_id: "abc123", part_size: 8388608 },
      { key: "async-temp/k2", upload_id: null, part_size: null },
    ]);
  });

  it("0002: `failed` rows that meant canceled or delete-after-commit get their own status; real failures stay", async () => {
    const { db, client } = await databaseAt("0001_part-size-column");
    await db.execute(insert(1, { status: "failed", error: "canceled by the uploader" }));
    await db.execute(insert(2, { key: "docs/record-1/a.bin", status: "failed", error: "replaced or removed; delete after commit" }));
    await db.execute(insert(3, { status: "failed", error: "declared 10 bytes, stored 9" }));
    await migrateAsyncUploads(db);
    const { rows } = await client.query("select key, status, error from async_temp_file order by id");
    expect(rows).toEqual([
      { key: "async-temp/k1", status: "canceled", error: null },
      { key: "docs/record-1/a.bin", status: "discarded", error: null },
      { key: "async-temp/k3", status: "failed", error: "declared 10 bytes, stored 9" },
    ]);
  });
});
