import { randomBytes } from "node:crypto";
import { asc, ne, sql } from "drizzle-orm";
import type { ExportQueuedResponse } from "../../shared/exports";
import { createAsyncUploads, type AsyncUploads } from "../../server/create-async-uploads";
import { asyncExport } from "../../server/db/export-schema";
import { asyncTempFile } from "../../server/db/schema";
import { MiB } from "../../server/registry";
import { newWriterLog, registerTestExports, type Criteria, type WriterLog } from "../server/exports/definitions";
import { waitForStatus } from "../server/exports/harness";
import { TEST_SECRET } from "../helpers/uploads";
import type { Bench, BenchOptions } from "./route-bench";

/**
 * What the properties of `process`, `events` and the export routes need around the bench: a field with
 * a processing step, the test export types (test/server/exports/definitions.ts), pg-boss on a schema
 * of this file's own, and exports in every state, for alice and for bob.
 *
 * The bench's instance runs no worker (`processing.worker: false`): nothing changes in the background
 * while the properties run, so a refusal's before/after comparison of rows, jobs and objects is exact.
 * A second instance on the same database, with workers, builds the finished exports first and stops.
 */

/** The field whose uploads have a processing step. */
export const SCANNED = "docs.scanned";

/** pg-boss's schema of this file (dropped at the end). */
export const bossSchema = `pgboss_props_${randomBytes(5).toString("hex")}`;

/** Everything the routes logged through `log` (a refusal must log nothing). */
export const logged: string[] = [];
const log = (message: string, error: unknown) => {
  logged.push(`${message}: ${error instanceof Error ? error.message : String(error)}`);
};

/** Fields and export types, the same on both instances. */
function register(uploads: AsyncUploads, writers: WriterLog): void {
  uploads.registry.register(SCANNED, { maxSize: MiB, processing: [{ name: "virus-scan", run: async () => undefined }] });
  registerTestExports(uploads, writers, { maxConcurrentPerPrincipal: 6 });
}

const writers = newWriterLog();

/** The bench options of this file. */
export const benchOptions: BenchOptions = {
  start: true,
  uploads: {
    processing: { schema: bossSchema, worker: false },
    exports: { cleanupSchedule: false },
    live: { maxTopicsPerStream: 5, heartbeatSeconds: 600 },
    log,
  },
  register: (uploads) => register(uploads, writers),
  // A refusal must leave the uploads' rows (processing columns included), the exports and the jobs as they were.
  state: async (t) => ({
    uploads: await t.db
      .select({ id: asyncTempFile.id, status: asyncTempFile.status, state: asyncTempFile.processingState, version: asyncTempFile.processingVersion })
      .from(asyncTempFile)
      .where(ne(asyncTempFile.principal, "probe"))
      .orderBy(asc(asyncTempFile.id)),
    exports: await t.db.select().from(asyncExport).orderBy(asc(asyncExport.id)),
    jobs: rowsOf(await t.db.execute(sql`select id, name, state from ${sql.identifier(bossSchema)}.job order by id`)),
  }),
};

function rowsOf(result: unknown): unknown[] {
  return Array.isArray(result) ? [...result] : (result as { rows: unknown[] }).rows;
}

export interface Fixtures {
  exports: {
    succeeded: string;
    /** alice's second finished one, which DELETE may remove once. */
    spare: string;
    failed: string;
    cancelled: string;
    queued: string;
    bobs: string;
  };
  links: {
    /** alice's requester-only link to `succeeded`, a general one, bob's requester-only link. */
    mine: string;
    general: string;
    bobs: string;
    expired: string;
    /** A link to an export that was cleared, and one to an export not built yet. */
    gone: string;
    notReady: string;
  };
  keys: {
    /** alice's stored upload of the scanned field, already asked to be processed (queued). */
    queued: string;
    notUploaded: string;
    bobs: string;
    /** alice's stored upload of a field without steps. */
    plain: string;
  };
  /** fileId of the queued upload (for its topic token). */
  queuedFileId: string;
}

const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

/** Builds the fixtures: finished exports with a worker instance (then stopped), the rest on the bench's. */
export async function buildFixtures(bench: Bench): Promise<Fixtures> {
  const worker = createAsyncUploads({
    db: bench.t.db,
    secret: TEST_SECRET,
    storage: bench.backend.storage,
    getPrincipal: (c) => c.req.header("x-principal") ?? null,
    processing: { schema: bossSchema, pollingIntervalSeconds: 0.5 },
    exports: { cleanupSchedule: false },
    log: () => {},
  });
  register(worker, writers);
  await worker.start();
  const ask = async (criteria: Criteria, as = "alice") => {
    const response = await worker.routes.request("http://localhost/exports", { ...json({ exportId: "rows.csv", criteria }), headers: { "content-type": "application/json", "x-principal": as } });
    if (response.status !== 202) throw new Error(`POST /exports answered ${response.status}: ${await response.text()}`);
    return ((await response.json()) as ExportQueuedResponse).export.id;
  };
  try {
    const [succeeded, spare, gone, failed, cancelled, bobs] = await Promise.all([
      ask({ rows: 20, tag: "done", mode: "ok" }),
      ask({ rows: 20, tag: "spare", mode: "ok" }),
      ask({ rows: 20, tag: "gone", mode: "ok" }),
      ask({ rows: 20, tag: "fail", mode: "throw" }),
      ask({ rows: 20, tag: "cancel", mode: "wait" }),
      ask({ rows: 20, tag: "bob", mode: "ok" }, "bob"),
    ]);
    await worker.exports.cancel(cancelled!, "alice");
    for (const id of [succeeded!, spare!, gone!, bobs!]) await waitForStatus(bench.t.db, id, ["succeeded"]);
    await waitForStatus(bench.t.db, failed!, ["failed"]);
    await waitForStatus(bench.t.db, cancelled!, ["cancelled"]);
    const links = {
      mine: await worker.exports.link(succeeded!),
      general: await worker.exports.link(succeeded!, { general: true }),
      bobs: await worker.exports.link(bobs!),
      expired: await worker.exports.link(succeeded!, { lifetimeSeconds: 0.001 }),
      gone: await worker.exports.link(gone!, { general: true }),
    };
    await worker.exports.clear(gone!, "alice");
    // Stopped before the properties: graceful, so no job is left active.
    await worker.close();

    const queuedExport = await bench.uploads.exports.request({ exportId: "rows.csv", criteria: { rows: 20, tag: "queued" }, principal: "alice" });
    if (!("queued" in queuedExport)) throw new Error("the queued fixture was served at once");
    const queued = queuedExport.queued.id;
    const path = (link: string) => link.replace(/^\/async-uploads/, "");
    const bytes = new TextEncoder().encode("plain text to scan");
    const stored = async (fieldId: string, as = "alice", store = true) => {
      const target = await bench.t.issue({ fieldId, filename: "notes.txt", contentType: "text/plain", size: bytes.length }, as);
      if (store && (await bench.t.put(target, bytes)).status !== 201) throw new Error("the fixture upload failed");
      return target;
    };
    const queuedUpload = await stored(SCANNED);
    const processed = await bench.t.request("/process", json({ key: queuedUpload.key }));
    if (processed.status !== 202) throw new Error(`POST /process answered ${processed.status}`);
    return {
      exports: { succeeded: succeeded!, spare: spare!, failed: failed!, cancelled: cancelled!, queued, bobs: bobs! },
      links: {
        mine: path(links.mine),
        general: path(links.general),
        bobs: path(links.bobs),
        expired: path(links.expired),
        gone: path(links.gone),
        notReady: path(await bench.uploads.exports.link(queued)),
      },
      keys: {
        queued: queuedUpload.key,
        notUploaded: (await stored(SCANNED, "alice", false)).key,
        bobs: (await stored(SCANNED, "bob")).key,
        plain: (await stored("docs.file")).key,
      },
      queuedFileId: queuedUpload.processing!.fileId,
    };
  } finally {
    await worker.close();
  }
}

/** A stored upload of the scanned field that nobody asked to process yet (alice's). */
export async function freshScannedUpload(bench: Bench): Promise<string> {
  const bytes = new TextEncoder().encode("fresh text to scan");
  const target = await bench.t.issue({ fieldId: SCANNED, filename: "fresh.txt", contentType: "text/plain", size: bytes.length });
  if ((await bench.t.put(target, bytes)).status !== 201) throw new Error("the fresh upload failed");
  return target.key;
}
