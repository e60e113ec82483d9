CREATE TABLE "documents" (
	"id" uuid PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"title" text NOT NULL,
	"attachment_key" text,
	"attachment_name" text,
	"attachment_size" bigint,
	"attachment_type" text,
	"cover_key" text,
	"cover_name" text,
	"cover_size" bigint,
	"cover_type" text,
	"cover_width" integer,
	"cover_height" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "documents_owner_created_at_idx" ON "documents" USING btree ("owner","created_at");