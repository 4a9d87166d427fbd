-- The change feed (`GET /api/v1/events`) reads events in commit order.
-- SQLite commits one writer at a time, so the rowid an event gets on insert
-- is its commit order; the trigger copies it into a column both backends
-- share. `feed_xid` is PostgreSQL's transaction id there, 0 here.
ALTER TABLE ticket_events ADD COLUMN feed_position BIGINT;
ALTER TABLE ticket_events ADD COLUMN feed_xid BIGINT NOT NULL DEFAULT 0;
UPDATE ticket_events SET feed_position = rowid;
CREATE INDEX ticket_events_feed ON ticket_events (feed_xid, feed_position);
CREATE TRIGGER ticket_events_feed_position AFTER INSERT ON ticket_events
BEGIN
    UPDATE ticket_events SET feed_position = NEW.rowid WHERE rowid = NEW.rowid;
END;
