-- Whether a message was written by a machine (an out-of-office, an
-- `Auto-Submitted` mail, a bounce), in a column SLA clocks and reports can
-- filter on: an automatic customer message starts no response clock.
ALTER TABLE messages ADD COLUMN automatic BOOLEAN NOT NULL DEFAULT FALSE;
