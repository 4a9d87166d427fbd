-- The change feed (`GET /api/v1/events`) reads events in the order of their
-- transactions' ids, then their position, and only from transactions older
-- than every one still running (the snapshot's xmin): no transaction that
-- could still commit an event before the cursor is running, so a cursor
-- never skips an event committed late. Existing events sort first (xid 0).
CREATE SEQUENCE ticket_event_feed_seq;
ALTER TABLE ticket_events ADD COLUMN feed_position BIGINT DEFAULT nextval('ticket_event_feed_seq');
ALTER TABLE ticket_events ADD COLUMN feed_xid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ticket_events ALTER COLUMN feed_xid SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX ticket_events_feed ON ticket_events (feed_xid, feed_position);
