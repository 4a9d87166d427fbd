-- Email: raw inbound messages (exactly-once delivery), ticket participants,
-- the outbox, IMAP positions, and secrets generated once per installation.

CREATE TABLE inbound_messages (
    id TEXT PRIMARY KEY,
    -- Message-ID, or sha256 of the raw message when it has none: the same
    -- message delivered twice (MTA retry, IMAP re-fetch, two doors) is stored once.
    dedupe_key TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    raw BYTEA NOT NULL,
    size BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    ticket_id TEXT REFERENCES tickets (id),
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX inbound_messages_received_idx ON inbound_messages (received_at);

CREATE TABLE ticket_participants (
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    email TEXT NOT NULL,
    added_at TIMESTAMP NOT NULL,
    PRIMARY KEY (ticket_id, email)
);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    ticket_id TEXT REFERENCES tickets (id),
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    message_id TEXT NOT NULL UNIQUE,
    in_reply_to TEXT,
    references_header TEXT,
    reply_to TEXT,
    automatic BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX outbox_due_idx ON outbox (status, next_attempt_at);
CREATE INDEX outbox_ticket_idx ON outbox (ticket_id);
CREATE INDEX outbox_ack_idx ON outbox (kind, created_at);

-- One row per recipient, so "how many acknowledgements did this address get
-- in the last hour" is an indexed lookup.
CREATE TABLE outbox_recipients (
    outbox_id TEXT NOT NULL REFERENCES outbox (id),
    email TEXT NOT NULL,
    PRIMARY KEY (outbox_id, email)
);
CREATE INDEX outbox_recipients_email_idx ON outbox_recipients (email);

CREATE TABLE imap_positions (
    mailbox TEXT PRIMARY KEY,
    uid_validity BIGINT NOT NULL,
    last_uid BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE app_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX messages_email_message_id_idx ON messages (email_message_id);
