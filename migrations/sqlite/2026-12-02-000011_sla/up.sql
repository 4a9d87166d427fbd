-- SLA policies: ordered like routing rules, each with its targets and
-- calendar. The current definition is on the row; every change also writes
-- a numbered version, which clocks record as what they were measured
-- against.
CREATE TABLE sla_policies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    enabled BOOLEAN NOT NULL,
    vendor_id TEXT REFERENCES vendors(id),
    definition TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Versions outlive their policy: finished clocks still name them.
CREATE TABLE sla_policy_versions (
    policy_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (policy_id, version)
);

-- One row per ticket under SLA: the policy version it runs under, the
-- earliest running due time (the ticket's `sla` summary, list filters and
-- sorting), and the next instant a clock needs the scanner. Kept off
-- `tickets` so the scanner never bumps a ticket's version.
CREATE TABLE ticket_sla (
    ticket_id TEXT PRIMARY KEY REFERENCES tickets(id),
    policy_id TEXT,
    policy_version INTEGER,
    due_at TIMESTAMP,
    state TEXT,
    attention_at TIMESTAMP,
    computed_at TIMESTAMP NOT NULL
);
CREATE INDEX ticket_sla_attention ON ticket_sla (attention_at) WHERE attention_at IS NOT NULL;
CREATE INDEX ticket_sla_due ON ticket_sla (due_at) WHERE due_at IS NOT NULL;

-- Every clock of every ticket, derived from its history by
-- domain::sla::clock, so recomputing always gives the same rows.
CREATE TABLE sla_clocks (
    ticket_id TEXT NOT NULL REFERENCES tickets(id),
    metric TEXT NOT NULL,
    cycle INTEGER NOT NULL,
    policy_id TEXT NOT NULL,
    policy_version INTEGER NOT NULL,
    target_seconds BIGINT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    stopped_at TIMESTAMP,
    due_at TIMESTAMP,
    warning_at TIMESTAMP,
    state TEXT NOT NULL,
    breached_at TIMESTAMP,
    business_seconds_used BIGINT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (ticket_id, metric, cycle)
);

-- What the scanner announced, once per clock, cycle and threshold: the
-- unique key is what makes warnings and escalations happen once across
-- processes and restarts. Withdrawn when a policy change unsays it.
CREATE TABLE sla_notices (
    ticket_id TEXT NOT NULL REFERENCES tickets(id),
    metric TEXT NOT NULL,
    cycle INTEGER NOT NULL,
    threshold TEXT NOT NULL,
    due_at TIMESTAMP NOT NULL,
    noticed_at TIMESTAMP NOT NULL,
    withdrawn_at TIMESTAMP,
    PRIMARY KEY (ticket_id, metric, cycle, threshold)
);
