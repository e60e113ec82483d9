import type { AsyncUploads } from "../../../server/create-async-uploads";
import { ExportCriteriaError, type ExportDefinition, type ExportReadyContext, type ExportWriteContext } from "../../../server/exports/types";

/**
 * How a test export behaves, chosen by its criteria: `ok` writes `rows` CSV lines; `slow` waits 20 ms
 * per row (so progress is written several times); `wait` writes a line, then waits for its signal;
 * `flaky` throws on its first attempt; `throw` always throws (with a message that must never be shown);
 * `big` writes 200 KiB (more than one chunk, for a storage outage mid-file); `tight` reports progress
 * 120 000 times over about 600 ms (a tight loop that must not flood the database).
 */
export type Mode = "ok" | "slow" | "wait" | "flaky" | "throw" | "big" | "tight";

export interface Criteria {
  rows: number;
  tag: string;
  mode: Mode;
}

/** What the test writers saw, by tag. */
export interface WriterLog {
  attempts: Map<string, number>;
  aborted: Set<string>;
  ready: ExportReadyContext[];
}

export function newWriterLog(): WriterLog {
  return { attempts: new Map(), aborted: new Set(), ready: [] };
}

const MODES: readonly Mode[] = ["ok", "slow", "wait", "flaky", "throw", "big", "tight"];

/** The app's validation: a plain object with a whole `rows` from 0 to 100 000. */
export function parseCriteria(input: unknown): Criteria {
  const value = input as Partial<Criteria> | null;
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new ExportCriteriaError("Choose what to export.");
  if (!Number.isSafeInteger(value.rows) || value.rows! < 0 || value.rows! > 100_000) throw new ExportCriteriaError("rows must be a whole number from 0 to 100000.");
  const mode = value.mode ?? "ok";
  if (!MODES.includes(mode)) throw new ExportCriteriaError("Unknown mode.");
  return { rows: value.rows!, tag: typeof value.tag === "string" ? value.tag : "", mode };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Registers `rows.csv` (delayed above 10 rows), `forbidden.csv` (nobody may) and `general.csv` (general links). */
export function registerTestExports(uploads: AsyncUploads, log: WriterLog, options: { maxConcurrentPerPrincipal?: number } = {}): void {
  const definition: ExportDefinition<Criteria> = {
    criteria: parseCriteria,
    filename: (criteria: Criteria) => `rows-${criteria.tag || "all"}.csv`,
    contentType: "text/csv",
    delay: (criteria: Criteria) => criteria.rows > 10 || criteria.mode !== "ok",
    retryLimit: 1,
    maxConcurrentPerPrincipal: options.maxConcurrentPerPrincipal ?? 3,
    onReady: (context: ExportReadyContext) => {
      log.ready.push(context);
    },
    write: async ({ criteria, output, progress, signal }: ExportWriteContext<Criteria>) => {
      const attempt = (log.attempts.get(criteria.tag) ?? 0) + 1;
      log.attempts.set(criteria.tag, attempt);
      if (criteria.mode === "throw") throw new Error("connection to db failed: password=hunter2");
      if (criteria.mode === "flaky" && attempt === 1) throw new Error("flaky writer, first attempt");
      await output.write("n,square\n");
      if (criteria.mode === "wait") {
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
        log.aborted.add(criteria.tag);
        throw signal.reason;
      }
      if (criteria.mode === "tight") {
        for (let round = 0; round < 6; round++) {
          await sleep(100);
          for (let i = 1; i <= 20_000; i++) progress(round * 20_000 + i, 120_000);
        }
        return;
      }
      if (criteria.mode === "big") {
        const line = `${"x".repeat(1023)}\n`;
        for (let i = 0; i < 200; i++) await output.write(line);
        return;
      }
      for (let n = 1; n <= criteria.rows; n++) {
        if (criteria.mode === "slow") await sleep(20);
        await output.write(`${n},${n * n}\n`);
        progress(n, criteria.rows);
      }
    },
  };
  uploads.exports.register("rows.csv", definition);
  uploads.exports.register("forbidden.csv", { ...definition, canRequest: () => false });
  uploads.exports.register("general.csv", { ...definition, generalLink: true });
}

/** The CSV `rows` lines make. */
export function expectedCsv(rows: number): string {
  let text = "n,square\n";
  for (let n = 1; n <= rows; n++) text += `${n},${n * n}\n`;
  return text;
}
