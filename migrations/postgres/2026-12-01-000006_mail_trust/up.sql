-- Mail about a ticket goes To its customer with the participants in Cc, so
-- nobody's reply-all turns the ticket into a mailing list. The To address;
-- the other recipients in outbox_recipients are Cc. NULL (mail queued before
-- this column existed): everyone in To, as then.
ALTER TABLE outbox ADD COLUMN to_address TEXT;
