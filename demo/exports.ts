import { and, asc, count, eq, sql } from "drizzle-orm";
import { ExportCriteriaError, type AsyncUploads, type Database } from "async-uploads/server";
import { documents } from "./schema";

/** The demo's export: every document of the session as CSV. */
export const DOCUMENTS_EXPORT = "documents.csv";
/** Up to this many documents the CSV is served at once; above it the export is built in the background. */
export const SERVE_NOW_MAX_ROWS = 50;
/** Rows read per query (keyset pagination, so memory stays flat whatever the count). */
const BATCH_ROWS = 500;

export interface DemoExportsOptions {
  /**
   * A pause after each batch, so that a few thousand rows take long enough to watch the centre's
   * progress (200,000 rows: about 20 s). Tests set 0. @default 50
   */
  pauseMs?: number;
}

/**
 * Registers `documents.csv`: the session's documents, served now when there are at most
 * {@link SERVE_NOW_MAX_ROWS}, queued otherwise (built by the job worker, which `npm start` runs in
 * its process, streamed into the demo's storage, and picked up in the download centre).
 */
export function registerDemoExports(uploads: AsyncUploads, db: Database, options: DemoExportsOptions = {}): void {
  const pauseMs = options.pauseMs ?? 50;
  const countOf = async (principal: string) => {
    const [row] = await db.select({ rows: count() }).from(documents).where(eq(documents.owner, principal));
    return row?.rows ?? 0;
  };
  uploads.exports.register(DOCUMENTS_EXPORT, {
    // The button sends no criteria (an empty object); anything else is not from our page.
    criteria: (input) => {
      if (input === null || typeof input !== "object" || Array.isArray(input) || Object.keys(input).length > 0) {
        throw new ExportCriteriaError("This export takes no criteria.");
      }
      return {};
    },
    filename: () => `documents-${new Date().toISOString().slice(0, 10)}.csv`,
    contentType: "text/csv",
    delay: async (_criteria, { principal }) => (await countOf(principal)) > SERVE_NOW_MAX_ROWS,
    write: async ({ principal, output, progress, signal }) => {
      const total = await countOf(principal);
      await output.write("\uFEFFid,title,attachment,attachment_bytes,cover,created_at\n");
      let done = 0;
      // Keyset pagination on the (owner, created_at) index; the cursor keeps PostgreSQL's own text of the
      // timestamp (a JS Date would drop its microseconds and skip or repeat rows).
      let after: { at: string; id: string } | null = null;
      for (;;) {
        signal.throwIfAborted();
        const rows = await db
          .select({
            id: documents.id,
            title: documents.title,
            attachmentName: documents.attachmentName,
            attachmentSize: documents.attachmentSize,
            coverName: documents.coverName,
            createdAt: documents.createdAt,
            cursor: sql<string>`${documents.createdAt}::text`,
          })
          .from(documents)
          .where(
            after === null
              ? eq(documents.owner, principal)
              : and(eq(documents.owner, principal), sql`(${documents.createdAt}, ${documents.id}) > (${after.at}::timestamptz, ${after.id}::uuid)`),
          )
          .orderBy(asc(documents.createdAt), asc(documents.id))
          .limit(BATCH_ROWS);
        if (rows.length === 0) break;
        const lines = rows.map((row) =>
          [row.id, row.title, row.attachmentName ?? "", row.attachmentSize ?? "", row.coverName ?? "", row.createdAt.toISOString()].map(csvField).join(","),
        );
        await output.write(`${lines.join("\n")}\n`);
        done += rows.length;
        const last: { cursor: string; id: string } = rows[rows.length - 1]!;
        after = { at: last.cursor, id: last.id };
        progress(done, Math.max(total, done));
        if (rows.length < BATCH_ROWS) break;
        if (pauseMs > 0) await sleep(pauseMs, signal);
      }
    },
  });
}

/**
 * One CSV field: quoted when it holds a comma, quote or line break; a value a spreadsheet would run as
 * a formula (`=`, `+`, `-`, `@`, tab, carriage return first) gets a leading `'` (titles are the visitor's text).
 */
export function csvField(value: string | number): string {
  let text = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });
}

/** The most sample documents one request adds. */
export const MAX_SAMPLES = 200_000;

/**
 * Adds `count` sample documents (no files) to `principal`'s list in one statement, so that the CSV
 * export has enough rows to watch its progress. A development aid (`GET /` shows its form unless
 * NODE_ENV=production).
 */
export async function addSampleDocuments(db: Database, principal: string, count: number): Promise<void> {
  await db.execute(sql`
    insert into ${documents} (id, owner, title, created_at, updated_at)
    select gen_random_uuid(), ${principal}, 'Sample document ' || n, now() - n * interval '1 millisecond', now()
    from generate_series(1, ${count}::int) as n`);
}
