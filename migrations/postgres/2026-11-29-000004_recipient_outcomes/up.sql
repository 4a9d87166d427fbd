-- One refused mailbox must not hold back a message's other recipients: the
-- sender falls back to one envelope per recipient and remembers, per
-- recipient, what became of it, so a retry goes only to those not yet served.
-- NULL: not yet delivered; 'delivered'; 'refused' (with the server's answer).
ALTER TABLE outbox_recipients ADD COLUMN outcome TEXT;
ALTER TABLE outbox_recipients ADD COLUMN error TEXT;
