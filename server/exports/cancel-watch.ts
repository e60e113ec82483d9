import { eq } from "drizzle-orm";
import { exportTopic, type ExportSummary } from "../../shared/exports.js";
import { asyncExport } from "../db/export-schema.js";
import type { Database } from "../db/types.js";
import type { LiveHub } from "../live/hub.js";

/** How often a running export's row is read again, in case a live event was missed. */
export const CANCEL_POLL_MS = 1000;

export interface CancelWatchDeps {
  db: Database;
  /** This instance's live hub: the fan-out (LISTEN/NOTIFY) delivers every change of `export:<id>` here, whichever instance made it. */
  hub: LiveHub | null;
  id: string;
  key: string;
  /**
   * The row's version when this attempt claimed it. An event of that version or older tells of a state
   * before the claim: the NOTIFY of `queued` can reach this process after the worker has claimed the
   * row (the listening backend or this event loop runs late under load), and must not stop the build.
   */
  version: number;
  log: (message: string, error: unknown) => void;
}

/**
 * Calls `abort` as soon as the export is no longer this attempt's to build: cancelled, cleared, or
 * taken over by another attempt, on whatever instance that happened. The change's live event (the
 * NOTIFY every instance hears) brings it at once; a poll of the row every second is the backstop
 * for a missed event (a LISTEN that reconnected). Returns the way to stop watching.
 */
export function watchCancellation(deps: CancelWatchDeps, abort: (why: string) => void): () => void {
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    unlisten();
    clearInterval(poll);
  };
  const fire = (why: string) => {
    if (stopped) return;
    stop();
    abort(why);
  };
  const unlisten =
    deps.hub?.listen([exportTopic(deps.id)], (event) => {
      if (event.version <= deps.version) return;
      const status = (event.data as Partial<ExportSummary> | null)?.status;
      if (status !== undefined && status !== "running") fire(`export ${deps.id} is now ${status}`);
    }) ?? (() => {});
  let reading = false;
  const poll = setInterval(() => {
    if (reading) return;
    reading = true;
    deps.db
      .select({ status: asyncExport.status, key: asyncExport.key })
      .from(asyncExport)
      .where(eq(asyncExport.id, deps.id))
      .then(([row]) => {
        if (!row) fire(`export ${deps.id} was cleared`);
        else if (row.status !== "running" || row.key !== deps.key) fire(`export ${deps.id} is now ${row.status}`);
      })
      .catch((error: unknown) => deps.log(`could not check export ${deps.id} for cancellation`, error))
      .finally(() => (reading = false));
  }, CANCEL_POLL_MS);
  poll.unref?.();
  return stop;
}
