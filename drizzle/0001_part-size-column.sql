ALTER TABLE "async_temp_file" ADD COLUMN "part_size" bigint;--> statement-breakpoint
-- Hand-written: carry existing rows over. upload_id held {"uploadId", "partSize"} as JSON (written only
-- by encodeMultipartState); it now holds the storage's upload id alone, the part size its own column.
UPDATE "async_temp_file" SET "upload_id" = ("upload_id"::jsonb ->> 'uploadId'), "part_size" = ("upload_id"::jsonb ->> 'partSize')::bigint WHERE "upload_id" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "async_temp_file" ADD CONSTRAINT "async_temp_file_part_size_check" CHECK (("async_temp_file"."upload_id" is null) = ("async_temp_file"."part_size" is null) and ("async_temp_file"."part_size" is null or "async_temp_file"."part_size" > 0));
