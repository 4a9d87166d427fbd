-- Core tables. Portable types only (TEXT, BIGINT, INTEGER, BOOLEAN, DOUBLE,
-- TIMESTAMP holding UTC, BLOB): the same diesel schema serves both backends.

CREATE TABLE vendors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL,
    contracted_attainment DOUBLE,
    price_per_ticket_cents BIGINT,
    currency TEXT,
    mask_customer_pii BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX vendors_name_key ON vendors (lower(name));

CREATE TABLE queues (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    vendor_id TEXT NOT NULL REFERENCES vendors (id),
    assignment_strategy TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX queues_vendor_idx ON queues (vendor_id);

CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    vendor_id TEXT REFERENCES vendors (id),
    role TEXT NOT NULL,
    skills TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX agents_vendor_idx ON agents (vendor_id);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    agent_id TEXT REFERENCES agents (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);

CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT,
    organization TEXT,
    created_at TIMESTAMP NOT NULL
);


CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    number BIGINT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    channel TEXT NOT NULL,
    queue_id TEXT REFERENCES queues (id),
    assignee_id TEXT REFERENCES agents (id),
    customer_id TEXT NOT NULL REFERENCES customers (id),
    tags TEXT NOT NULL,
    custom_fields TEXT NOT NULL,
    language TEXT,
    access_token_hash TEXT NOT NULL UNIQUE,
    follow_up_of TEXT REFERENCES tickets (id),
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    solved_at TIMESTAMP,
    closed_at TIMESTAMP
);
CREATE INDEX tickets_queue_idx ON tickets (queue_id, number);
CREATE INDEX tickets_status_idx ON tickets (status, number);
CREATE INDEX tickets_assignee_idx ON tickets (assignee_id, number);
CREATE INDEX tickets_customer_idx ON tickets (customer_id, number);

CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    content BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    author_kind TEXT NOT NULL,
    author_agent_id TEXT REFERENCES agents (id),
    author_customer_id TEXT REFERENCES customers (id),
    public BOOLEAN NOT NULL,
    channel TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    email_message_id TEXT,
    email_in_reply_to TEXT,
    email_references TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX messages_ticket_idx ON messages (ticket_id, created_at);

CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES messages (id),
    blob_sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX attachments_message_idx ON attachments (message_id);

CREATE TABLE ticket_events (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_id, id);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, key)
);
