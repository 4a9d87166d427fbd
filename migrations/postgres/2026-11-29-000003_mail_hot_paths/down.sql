ALTER TABLE blobs ALTER COLUMN content SET COMPRESSION default;
ALTER TABLE inbound_messages ALTER COLUMN raw SET COMPRESSION default;
DROP INDEX outbox_recipients_recent_idx;
CREATE INDEX outbox_recipients_email_idx ON outbox_recipients (email);
CREATE INDEX outbox_ack_idx ON outbox (kind, created_at);
ALTER TABLE outbox_recipients DROP COLUMN created_at;
ALTER TABLE outbox_recipients DROP COLUMN kind;
