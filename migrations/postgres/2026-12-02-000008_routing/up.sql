-- Calendars: when a queue is staffed, when an agent works, and (later) the
-- business hours of SLA clocks. The current definition is on the row; every
-- change also writes a numbered version, which is what clocks and routing
-- decisions refer to.
CREATE TABLE calendars (
    id TEXT PRIMARY KEY,
    vendor_id TEXT REFERENCES vendors(id),
    name TEXT NOT NULL,
    timezone TEXT NOT NULL,
    weekly TEXT NOT NULL,
    holidays TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE calendar_versions (
    calendar_id TEXT NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (calendar_id, version)
);

-- Queues: when they are staffed, where their tickets go when no one takes
-- them in time, and whether tickets need an agent with matching skills.
ALTER TABLE queues ADD COLUMN coverage_calendar_id TEXT REFERENCES calendars(id);
ALTER TABLE queues ADD COLUMN overflow_queue_id TEXT REFERENCES queues(id);
ALTER TABLE queues ADD COLUMN overflow_minutes INTEGER;
ALTER TABLE queues ADD COLUMN skill_matching BOOLEAN NOT NULL DEFAULT FALSE;

-- Agents: their shifts, and whether they take work right now.
ALTER TABLE agents ADD COLUMN shift_calendar_id TEXT REFERENCES calendars(id);
ALTER TABLE agents ADD COLUMN available BOOLEAN NOT NULL DEFAULT TRUE;

-- Tickets: the SLA policy a rule chose, and since when the ticket has been
-- waiting in its queue for an agent (for overflow and claim order).
ALTER TABLE tickets ADD COLUMN sla_policy_id TEXT;
ALTER TABLE tickets ADD COLUMN queued_at TIMESTAMP;
UPDATE tickets SET queued_at = created_at WHERE assignee_id IS NULL AND queue_id IS NOT NULL;
-- Claims read a queue's waiting tickets most urgent first (the expression
-- is db::ticket_claim::URGENCY, word for word, so the planner uses it),
-- then by wait, number breaking ties; agents' loads count open tickets.
CREATE INDEX tickets_waiting ON tickets (queue_id, (CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END), queued_at, number) WHERE assignee_id IS NULL;
CREATE INDEX tickets_assignee_status ON tickets (assignee_id, status);

CREATE TABLE routing_rules (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    enabled BOOLEAN NOT NULL,
    stop BOOLEAN NOT NULL,
    conditions TEXT NOT NULL,
    actions TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- One row: the rule set's version, bumped by every rule change, so each
-- Relay process notices another's change with one cheap read.
CREATE TABLE routing_rule_set (
    id INTEGER PRIMARY KEY,
    version BIGINT NOT NULL,
    changed_at TIMESTAMP NOT NULL
);
INSERT INTO routing_rule_set (id, version, changed_at) VALUES (1, 0, CURRENT_TIMESTAMP);

-- Where each round-robin queue's rotation stands. Its row is locked by the
-- UPDATE that takes a turn, so processes sharing the database share one
-- rotation.
CREATE TABLE queue_rotations (
    queue_id TEXT PRIMARY KEY REFERENCES queues(id) ON DELETE CASCADE,
    last_agent_id TEXT,
    turns BIGINT NOT NULL
);
