ALTER TABLE "async_temp_file" DROP CONSTRAINT "async_temp_file_status_check";--> statement-breakpoint
-- Hand-written: carry existing rows over. `failed` also meant "canceled" and "delete this saved file
-- after its save committed", told apart only by the error text this code wrote.
UPDATE "async_temp_file" SET "status" = 'canceled', "error" = NULL WHERE "status" = 'failed' AND "error" = 'canceled by the uploader';--> statement-breakpoint
UPDATE "async_temp_file" SET "status" = 'discarded', "error" = NULL WHERE "status" = 'failed' AND "error" = 'replaced or removed; delete after commit';--> statement-breakpoint
ALTER TABLE "async_temp_file" ADD CONSTRAINT "async_temp_file_status_check" CHECK ("async_temp_file"."status" in ('pending', 'committed', 'failed', 'canceled', 'discarded'));
