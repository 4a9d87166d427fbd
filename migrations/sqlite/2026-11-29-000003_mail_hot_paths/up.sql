-- Hot paths of mail intake, measured with bench/email.

-- "How many acknowledgements did this address get in the last hour" ran as a
-- join that read every acknowledgement of the hour, growing with traffic.
-- Each recipient row now carries its mail's kind and time, so the count is
-- one range of one index. (SQLite keeps the defaults: ADD COLUMN ... NOT NULL
-- needs one; every insert sets both.)
ALTER TABLE outbox_recipients ADD COLUMN kind TEXT NOT NULL DEFAULT 'reply';
ALTER TABLE outbox_recipients ADD COLUMN created_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE outbox_recipients SET
    kind = (SELECT o.kind FROM outbox AS o WHERE o.id = outbox_recipients.outbox_id),
    created_at = (SELECT o.created_at FROM outbox AS o WHERE o.id = outbox_recipients.outbox_id);
DROP INDEX outbox_recipients_email_idx;
DROP INDEX outbox_ack_idx;
CREATE INDEX outbox_recipients_recent_idx ON outbox_recipients (email, kind, created_at);
