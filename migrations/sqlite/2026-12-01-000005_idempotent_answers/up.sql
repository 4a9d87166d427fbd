-- A replay answers what the first answer showed, never the ticket's current
-- state: the first answer's JSON (without the customer's link) is kept with
-- its key. NULL for keys stored before this migration; those replay as
-- {id, number}.
ALTER TABLE idempotency_keys ADD COLUMN answer TEXT;

-- Settings that every Relay process must agree on, as JSON by name (first:
-- `public_fields`, which ticket fields the public channel may set).
CREATE TABLE app_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
