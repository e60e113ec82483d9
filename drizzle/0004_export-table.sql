CREATE TABLE "async_export" (
	"id" uuid PRIMARY KEY NOT NULL,
	"export_id" text NOT NULL,
	"principal" text NOT NULL,
	"criteria" jsonb NOT NULL,
	"criteria_hash" text NOT NULL,
	"filename" text NOT NULL,
	"content_type" text NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"percentage" smallint,
	"message" text,
	"key" text,
	"size" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"version" integer DEFAULT 1 NOT NULL,
	"attempt" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "async_export_status_check" CHECK ("async_export"."status" in ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired')),
	CONSTRAINT "async_export_percentage_check" CHECK ("async_export"."percentage" is null or ("async_export"."percentage" >= 0 and "async_export"."percentage" <= 100))
);
--> statement-breakpoint
CREATE INDEX "async_export_principal_created_at_idx" ON "async_export" USING btree ("principal","created_at");--> statement-breakpoint
CREATE INDEX "async_export_status_expires_at_idx" ON "async_export" USING btree ("status","expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "async_export_active_dedupe_idx" ON "async_export" USING btree ("principal","export_id","criteria_hash") WHERE "async_export"."status" in ('queued', 'running');