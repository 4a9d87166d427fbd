-- Hot paths of mail intake, measured with bench/email.

-- "How many acknowledgements did this address get in the last hour" ran as a
-- join that read every acknowledgement of the hour (4.6 ms at 2,000 of them,
-- growing with traffic). Each recipient row now carries its mail's kind and
-- time, so the count is one range of one index.
ALTER TABLE outbox_recipients ADD COLUMN kind TEXT NOT NULL DEFAULT 'reply';
ALTER TABLE outbox_recipients ADD COLUMN created_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE outbox_recipients AS r SET kind = o.kind, created_at = o.created_at
FROM outbox AS o WHERE o.id = r.outbox_id;
ALTER TABLE outbox_recipients ALTER COLUMN kind DROP DEFAULT;
ALTER TABLE outbox_recipients ALTER COLUMN created_at DROP DEFAULT;
DROP INDEX outbox_recipients_email_idx;
DROP INDEX outbox_ack_idx;
CREATE INDEX outbox_recipients_recent_idx ON outbox_recipients (email, kind, created_at);

-- Raw mail and attachment contents: lz4 instead of the default pglz, which
-- took 8% of all CPU under bench/email trying to compress base64 bodies and
-- already-compressed files. Only where the server was built with lz4.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE inbound_messages ALTER COLUMN raw SET COMPRESSION lz4;
        ALTER TABLE blobs ALTER COLUMN content SET COMPRESSION lz4;
    END IF;
END
$$;
