-- The SLA report groups settled clocks without reading their JSON: the
-- instant a clock settled (met: its stop; breached: its due time) and the
-- queue and vendor it is charged to (breached: whoever held the ticket
-- when the time ran out; otherwise whoever held it at the stop, or now).
ALTER TABLE sla_clocks ADD COLUMN settled_at TIMESTAMP;
ALTER TABLE sla_clocks ADD COLUMN queue_id TEXT;
ALTER TABLE sla_clocks ADD COLUMN vendor_id TEXT;
-- Clocks stored before these columns: a breach from its breached_by, any
-- other clock from the last holder its used time was split to (the
-- holder at the stop unless the ticket came back to an earlier one).
UPDATE sla_clocks SET
    settled_at = CASE state WHEN 'met' THEN stopped_at WHEN 'breached' THEN breached_at END,
    queue_id = CASE WHEN state = 'breached' THEN detail::json -> 'breached_by' ->> 'queue_id'
                    ELSE detail::json -> 'by_vendor' -> -1 ->> 'queue_id' END,
    vendor_id = CASE WHEN state = 'breached' THEN detail::json -> 'breached_by' ->> 'vendor_id'
                     ELSE detail::json -> 'by_vendor' -> -1 ->> 'vendor_id' END;
CREATE INDEX sla_clocks_settled ON sla_clocks (settled_at) WHERE settled_at IS NOT NULL;
-- The vendors report counts the tickets a vendor's agents wrote on in a
-- period and the tickets solved in it.
CREATE INDEX messages_by_agent_created ON messages (created_at, author_agent_id) WHERE author_agent_id IS NOT NULL;
CREATE INDEX tickets_solved_at ON tickets (solved_at) WHERE solved_at IS NOT NULL;
-- A queue's average handle time, for the coverage report's staffing advice.
ALTER TABLE queues ADD COLUMN handle_seconds INTEGER;
-- Customer satisfaction: one survey per ticket, made when the ticket is
-- solved and mailed through the outbox. The link's token is a secret
-- kept as its hash, like the private ticket link. Who is rated is kept as
-- it was at the solve (the assignee, the queue and its vendor). A later
-- rating replaces the earlier one.
CREATE TABLE csat_surveys (
    ticket_id TEXT PRIMARY KEY REFERENCES tickets (id),
    token_hash TEXT NOT NULL UNIQUE,
    requested_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    agent_id TEXT,
    queue_id TEXT,
    vendor_id TEXT,
    rating TEXT,
    comment TEXT,
    rated_at TIMESTAMP
);
CREATE INDEX csat_surveys_rated ON csat_surveys (rated_at) WHERE rated_at IS NOT NULL;
