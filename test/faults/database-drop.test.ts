import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupTempFiles } from "../../server/cleanup/cleanup-temp-files";
import type { CommitResult } from "../../server/commit/commit";
import type { StorageDriver } from "../../server/storage/types";
import { PDF_BYTES } from "../helpers/uploads";
import { createFaultApp, createNamedDatabase, type FaultApp, type NamedDatabase } from "./database";
import { FAULT_FIELD } from "./fixtures/fields";

/**
 * The database connection drops (every backend of the app terminated from an admin connection, as a
 * failover or a network cut would) in the middle of a commit and right after one. PGlite is one
 * in-process connection that cannot be cut from outside, so these run on PostgreSQL only.
 */
const onPostgres = Boolean(process.env.DATABASE_URL);
if (!onPostgres) console.info("database-drop fault tests skipped: they need real PostgreSQL (set DATABASE_URL)");
const DAY_AND_AN_HOUR = 25 * 60 * 60 * 1000;

describe.runIf(onPostgres)("the database connection drops", () => {
  let database: NamedDatabase;
  let app: FaultApp;
  /** Storage hooks a test sets; null means "behave normally". */
  const hooks: { afterDelete: ((key: string) => Promise<void>) | null } = { afterDelete: null };
  beforeAll(async () => {
    database = await createNamedDatabase();
    app = await createFaultApp(database, (disk) =>
      Object.assign(Object.create(disk) as StorageDriver, {
        delete: async (key: string) => {
          await disk.delete(key);
          await hooks.afterDelete?.(key);
        },
      }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await database?.close();
  });

  /** The server keeps answering: a fresh upload and save go through on new connections. */
  async function expectServerAnswers(instanceId: string) {
    const result = await app.save(await app.uploaded(), instanceId);
    expect(await app.disk.readFirstBytes(result!.key!, 1024)).toEqual(PDF_BYTES);
  }

  it("while commit waits on the storage copy: the save fails, nothing is committed, the retry commits exactly once", async () => {
    // In a child process: postgres.js 3.4.9 can crash the whole process when a query is written to a
    // transaction connection that was cut (porsager/postgres#1154, #1208); the parent must survive that.
    const key = await app.uploaded();
    const child = app.commitInChild("drop-before-copy", key, "rec-1");
    await child.waitFor("copying");
    // The child's transaction is open and holds the row; now every connection of the app goes away.
    expect(await database.terminate()).toBeGreaterThan(0);
    child.process.stdin!.write("go\n");
    const { code } = await child.exited;
    const output = child.output();
    const crashed = code !== 0;
    if (crashed) {
      expect(output).toMatch(/Cannot read properties of null \(reading 'write'\)/);
      console.warn("database-drop: the child process crashed inside postgres.js (known upstream bug, see SECURITY.md)");
    } else {
      expect(output).toMatch(/save failed: .*(CONNECTION|terminat|ECONNRESET|closed)/i);
    }
    // Whatever happened to the child, nothing was committed and the upload is intact.
    expect((await app.rowOf(key))?.status).toBe("pending");
    expect(await app.disk.stat(key)).not.toBeNull();
    expect((await app.files()).filter((file) => file.startsWith("records/rec-1/")).length).toBeLessThanOrEqual(1);

    const retried = await app.save(key, "rec-1");
    expect((await app.files()).filter((file) => file.startsWith("records/rec-1/"))).toEqual([retried.key]);
    expect(await app.disk.readFirstBytes(retried.key!, 1024)).toEqual(PDF_BYTES);
    expect(await app.disk.stat(key)).toBeNull();
    expect(await app.rowOf(key)).toBeUndefined();
    await expectServerAnswers("rec-1b");
  });

  it("right after the app's transaction committed, while afterCommit cleans up: the record is whole and cleanup finishes", async () => {
    const key = await app.uploaded();
    hooks.afterDelete = async (deleted) => {
      // The temp object is gone; the connection drops before its row is deleted.
      if (deleted === key) await database.terminate();
    };
    let result: CommitResult | undefined;
    try {
      result = await app.save(key, "rec-2");
    } finally {
      hooks.afterDelete = null;
    }
    expect(await app.disk.readFirstBytes(result!.key!, 1024)).toEqual(PDF_BYTES);
    // Either the row delete still went through on a fresh connection, or it is left `committed` for cleanup.
    const left = await app.rowOf(key);
    expect(left === undefined || left.status === "committed").toBe(true);
    await cleanupTempFiles(app.uploads, { now: () => new Date(Date.now() + DAY_AND_AN_HOUR) });
    expect(await app.rowOf(key)).toBeUndefined();
    expect(await app.disk.readFirstBytes(result!.key!, 1024)).toEqual(PDF_BYTES);
    await expectServerAnswers("rec-2b");
  });

  it("between requests: every pooled connection is cut (a failover); the next requests get fresh connections", async () => {
    expect(await database.terminate()).toBeGreaterThan(0);
    // Idle connections learn of the cut from their sockets; the pool then opens new ones on demand.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const response = await app.uploads.routes.request("http://localhost/upload-url", {
        method: "POST",
        headers: { "content-type": "application/json", "x-principal": "alice" },
        body: JSON.stringify({ fieldId: FAULT_FIELD, filename: "a.pdf", contentType: "application/pdf", size: 10 }),
      });
      statuses.push(response.status);
    }
    expect(statuses).toEqual(Array(12).fill(201));
    await expectServerAnswers("rec-3");
  });
});
