ALTER TABLE outbox_recipients DROP COLUMN error;
ALTER TABLE outbox_recipients DROP COLUMN outcome;
