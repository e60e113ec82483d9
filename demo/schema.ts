import { sql } from "drizzle-orm";
import { bigint, index, integer, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * The demo app's own record. It holds the committed keys of its two upload fields next to what the
 * pages show about them (name, size, type), copied from `commit`'s result so listing needs no storage call.
 */
export const documents = pgTable(
  "documents",
  {
    id: uuid("id").primaryKey(),
    /** The session (principal) that created the document; only it may see, edit or delete it. */
    owner: text("owner").notNull(),
    title: text("title").notNull(),
    attachmentKey: text("attachment_key"),
    attachmentName: text("attachment_name"),
    attachmentSize: bigint("attachment_size", { mode: "number" }),
    attachmentType: text("attachment_type"),
    coverKey: text("cover_key"),
    coverName: text("cover_name"),
    coverSize: bigint("cover_size", { mode: "number" }),
    coverType: text("cover_type"),
    coverWidth: integer("cover_width"),
    coverHeight: integer("cover_height"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (table) => [index("documents_owner_created_at_idx").on(table.owner, table.createdAt)],
);

export type DocumentRow = typeof documents.$inferSelect;
export type NewDocumentRow = typeof documents.$inferInsert;
