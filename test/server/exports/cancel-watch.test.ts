import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXPORT_EVENT, exportTopic } from "../../../shared/exports";
import type { Connection } from "../../../server/db/database";
import { asyncExport } from "../../../server/db/export-schema";
import { CANCEL_POLL_MS, watchCancellation } from "../../../server/exports/cancel-watch";
import { LiveHub } from "../../../server/live/hub";
import { createTestDatabase } from "../../helpers/db";

/**
 * The worker's watch over a running export, on a real database and the in-process hub that the
 * LISTEN feeds. The hub's events are dispatched by hand, in the order a busy machine can deliver them.
 */
describe("watchCancellation", () => {
  let connection: Connection;

  beforeAll(async () => {
    connection = await createTestDatabase();
  });

  afterAll(async () => {
    await connection?.close();
  });

  /** A row as the worker's claim leaves it: running with this attempt's key, at `version`. */
  async function runningRow(version: number): Promise<string> {
    const id = randomUUID();
    await connection.db.insert(asyncExport).values({
      id,
      exportId: "rows.csv",
      principal: "watcher",
      criteria: {},
      criteriaHash: id,
      filename: "rows.csv",
      contentType: "text/csv",
      status: "running",
      key: "exports/attempt-key",
      version,
    });
    return id;
  }

  const event = (id: string, status: string, version: number) => ({
    topic: exportTopic(id),
    event: EXPORT_EVENT,
    data: { id, status, version },
    version,
  });

  it("ignores the queued event that reaches it after the claim, and still stops at a later cancel", async () => {
    const id = await runningRow(2);
    const hub = new LiveHub(32);
    const aborts: string[] = [];
    const stop = watchCancellation({ db: connection.db, hub, id, key: "exports/attempt-key", version: 2, log: () => {} }, (why) => aborts.push(why));
    try {
      // The queue's NOTIFY (version 1) arrives late, after the claim's own running event (version 2).
      hub.dispatch(event(id, "running", 2));
      hub.dispatch(event(id, "queued", 1));
      // Long enough for the row poll to run too: the row says running, with this key.
      await new Promise((resolve) => setTimeout(resolve, CANCEL_POLL_MS * 1.5));
      expect(aborts).toEqual([]);

      hub.dispatch(event(id, "running", 3)); // progress
      hub.dispatch(event(id, "cancelled", 4));
      expect(aborts).toEqual([`export ${id} is now cancelled`]);
    } finally {
      stop();
    }
  });
});
