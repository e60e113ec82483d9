import { sql } from "drizzle-orm";
import { bigint, check, index, integer, jsonb, pgTable, smallint, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

/** Statuses of an export (`shared/exports.ts`'s `ExportStatus`). */
export const EXPORT_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled", "expired"] as const;

/**
 * One row per requested export (issue 15): who asked, for what, and where it is. The job engine
 * (pg-boss) only holds `{id, attempt}`; this row is the truth the routes, the live channel and the
 * worker read, so a job left over from an earlier attempt can tell it no longer speaks for the row.
 */
export const asyncExport = pgTable(
  "async_export",
  {
    id: uuid("id").primaryKey(),
    /** The registered export type ("documents.csv"). */
    exportId: text("export_id").notNull(),
    principal: text("principal").notNull(),
    /** The criteria as the app's `criteria()` accepted them (its input, as JSON); parsed again by the worker. */
    criteria: jsonb("criteria").notNull(),
    /** sha256 of the parsed criteria as canonical JSON: two requests with the same hash are the same export. */
    criteriaHash: text("criteria_hash").notNull(),
    filename: text("filename").notNull(),
    contentType: text("content_type").notNull(),
    status: text("status", { enum: EXPORT_STATUSES }).notNull().default("queued"),
    /** 0–100 while running, null when the writer gave no total. */
    percentage: smallint("percentage"),
    /** Failed: a safe message (the real error is only logged). */
    message: text("message"),
    /** The storage key of this attempt's file (set when an attempt starts; null when queued). */
    key: text("key"),
    size: bigint("size", { mode: "number" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    /** When a succeeded export's file is removed (cleanup-expired-exports). */
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    /** Bumped with every change: orders the live events. */
    version: integer("version").notNull().default(1),
    /** Bumped each time the export is queued (request, then each retry the person asks for); the job carries it. */
    attempt: integer("attempt").notNull().default(1),
  },
  (table) => [
    index("async_export_principal_created_at_idx").on(table.principal, table.createdAt),
    index("async_export_status_expires_at_idx").on(table.status, table.expiresAt),
    // At most one queued or running export per principal, type and criteria: the dedupe, enforced.
    uniqueIndex("async_export_active_dedupe_idx")
      .on(table.principal, table.exportId, table.criteriaHash)
      .where(sql`${table.status} in ('queued', 'running')`),
    check("async_export_status_check", sql`${table.status} in ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired')`),
    check("async_export_percentage_check", sql`${table.percentage} is null or (${table.percentage} >= 0 and ${table.percentage} <= 100)`),
  ],
);

export type AsyncExport = typeof asyncExport.$inferSelect;
export type NewAsyncExport = typeof asyncExport.$inferInsert;
