CREATE TABLE "async_temp_file" (
	"id" uuid PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"field_id" text NOT NULL,
	"principal" text NOT NULL,
	"instance_id" text,
	"original_filename" text NOT NULL,
	"content_type" text NOT NULL,
	"declared_size" bigint NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"committed_key" text,
	"upload_id" text,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "async_temp_file_key_unique" UNIQUE("key"),
	CONSTRAINT "async_temp_file_status_check" CHECK ("async_temp_file"."status" in ('pending', 'committed', 'failed'))
);
--> statement-breakpoint
CREATE INDEX "async_temp_file_status_created_at_idx" ON "async_temp_file" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "async_temp_file_principal_status_idx" ON "async_temp_file" USING btree ("principal","status");