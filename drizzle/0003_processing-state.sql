ALTER TABLE "async_temp_file" ADD COLUMN "processing_state" text;--> statement-breakpoint
ALTER TABLE "async_temp_file" ADD COLUMN "processing_step" text;--> statement-breakpoint
ALTER TABLE "async_temp_file" ADD COLUMN "processing_reason" text;--> statement-breakpoint
ALTER TABLE "async_temp_file" ADD COLUMN "processing_version" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "async_temp_file" ADD CONSTRAINT "async_temp_file_processing_state_check" CHECK ("async_temp_file"."processing_state" in ('queued', 'running', 'passed', 'rejected', 'failed'));