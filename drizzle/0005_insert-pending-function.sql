-- Records new pending uploads of one principal if, together, they keep the principal within its count
-- and bytes of unsaved uploads and everybody within the overall bytes (server/routes/pending-insert.ts).
-- One autocommit statement from the server: no explicit transaction, so no connection is reserved for
-- it and statements from other requests pipeline on the same connections.
--
-- Exact under concurrency: the advisory lock is taken first, and the count after it runs in a snapshot
-- of its own (a VOLATILE function takes a fresh snapshot for each statement it runs), so it sees every
-- row of the lock's previous holder, which committed before releasing the lock. The lock is the
-- principal's; while an overall byte bound is set (not Infinity) it is one lock for everybody.
CREATE OR REPLACE FUNCTION "async_uploads_insert_pending"(
	p_principal text,
	p_rows jsonb,
	p_bytes float8,
	p_now timestamptz,
	p_max_uploads float8,
	p_max_principal_bytes float8,
	p_max_bytes float8
) RETURNS TABLE (uploads_ok boolean, principal_bytes_ok boolean, inserted bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	v_overall boolean := p_max_bytes <> 'Infinity'::float8;
	v_uploads float8;
	v_principal_bytes float8;
	v_bytes float8 := 0;
	v_inserted bigint := 0;
BEGIN
	IF v_overall THEN
		PERFORM pg_advisory_xact_lock(hashtext('async_temp_file.pending_bytes'));
		SELECT count(*) FILTER (WHERE t.principal = p_principal),
			coalesce(sum(t.declared_size) FILTER (WHERE t.principal = p_principal), 0),
			coalesce(sum(t.declared_size), 0)
		INTO v_uploads, v_principal_bytes, v_bytes
		FROM async_temp_file t
		WHERE t.status = 'pending' AND t.expires_at > p_now;
	ELSE
		PERFORM pg_advisory_xact_lock(hashtext('async_temp_file.pending'), hashtext(p_principal));
		-- Only the principal's rows are read (the principal/status index).
		SELECT count(*), coalesce(sum(t.declared_size), 0)
		INTO v_uploads, v_principal_bytes
		FROM async_temp_file t
		WHERE t.principal = p_principal AND t.status = 'pending' AND t.expires_at > p_now;
	END IF;
	uploads_ok := v_uploads + jsonb_array_length(p_rows) <= p_max_uploads;
	principal_bytes_ok := v_principal_bytes + p_bytes <= p_max_principal_bytes;
	IF uploads_ok AND principal_bytes_ok AND v_bytes + p_bytes <= p_max_bytes THEN
		INSERT INTO async_temp_file (id, key, field_id, principal, instance_id, original_filename, content_type, declared_size, upload_id, part_size, expires_at)
		SELECT r.id, r.key, r."fieldId", p_principal, r."instanceId", r."originalFilename", r."contentType", r."declaredSize", r."uploadId", r."partSize", r."expiresAt"
		FROM jsonb_to_recordset(p_rows) AS r(id uuid, key text, "fieldId" text, "instanceId" text, "originalFilename" text,
			"contentType" text, "declaredSize" bigint, "uploadId" text, "partSize" bigint, "expiresAt" timestamptz);
		GET DIAGNOSTICS v_inserted = ROW_COUNT;
	END IF;
	inserted := v_inserted;
	RETURN NEXT;
END;
$$;
