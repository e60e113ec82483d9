import { and, eq } from "drizzle-orm";
import { asyncExport } from "../db/export-schema.js";
import type { Database } from "../db/types.js";
import { publishRow, type Publish } from "./state.js";

/** Least time between two progress writes of one export. */
export const PROGRESS_INTERVAL_MS = 250;

export interface ProgressDeps {
  db: Database;
  publish: Publish;
  /** The export and the key of the attempt reporting: a write that finds another key (or no longer `running`) changes nothing. */
  id: string;
  key: string;
  log: (message: string, error: unknown) => void;
  /** Called when a write finds the row no longer this attempt's (cancelled, taken over). */
  onGone: () => void;
}

/**
 * Turns `progress(done, total)` calls (as many as the writer likes) into at most one database write
 * (and one live event) per 250 ms, and only when the whole percentage changed; the last value is
 * written once the interval has passed. Writes are serial and never block the writer.
 */
export class ProgressReporter {
  readonly #deps: ProgressDeps;
  #written: number | null = null;
  #wanted: number | null = null;
  // The running event was just written: the first progress write waits its 250 ms too (a quick
  // export then never writes progress at all).
  #lastWriteAt = Date.now();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #writing: Promise<void> | null = null;
  #stopped = false;

  constructor(deps: ProgressDeps) {
    this.#deps = deps;
  }

  /** The writer's `progress(done, total?)`. Without a total (or with a bad one) nothing is written: the percentage stays unknown. */
  readonly report = (done: number, total?: number): void => {
    if (this.#stopped || total === undefined || !(total > 0) || !Number.isFinite(done) || !Number.isFinite(total)) return;
    this.#wanted = Math.max(0, Math.min(100, Math.floor((done / total) * 100)));
    this.#schedule();
  };

  #schedule(): void {
    if (this.#stopped || this.#timer || this.#writing || this.#wanted === this.#written) return;
    const wait = this.#lastWriteAt + PROGRESS_INTERVAL_MS - Date.now();
    if (wait > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#schedule();
      }, wait);
      this.#timer.unref?.();
      return;
    }
    const percentage = this.#wanted;
    this.#lastWriteAt = Date.now();
    this.#writing = this.#write(percentage).finally(() => {
      this.#writing = null;
      this.#schedule();
    });
  }

  async #write(percentage: number | null): Promise<void> {
    const { db, publish, id, key } = this.#deps;
    try {
      const gone = await db.transaction(async (tx) => {
        const [row] = await tx.select().from(asyncExport).where(and(eq(asyncExport.id, id), eq(asyncExport.key, key), eq(asyncExport.status, "running"))).for("update");
        if (!row) return true;
        const [updated] = await tx.update(asyncExport).set({ percentage, version: row.version + 1 }).where(eq(asyncExport.id, id)).returning();
        if (updated) await publishRow(publish, tx, updated);
        return false;
      });
      this.#written = percentage;
      if (gone) {
        this.#stopped = true;
        this.#deps.onGone();
      }
    } catch (error) {
      // Progress is a courtesy: a failed write is logged and the next one tries again.
      this.#written = percentage;
      this.#deps.log(`could not record the progress of export ${id}`, error);
    }
  }

  /** No more writes; waits for the one under way (so the final state is written after it). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#writing;
  }
}
