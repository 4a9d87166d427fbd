DROP TRIGGER ticket_events_feed_position;
DROP INDEX ticket_events_feed;
ALTER TABLE ticket_events DROP COLUMN feed_xid;
ALTER TABLE ticket_events DROP COLUMN feed_position;
