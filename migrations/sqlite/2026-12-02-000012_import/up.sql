-- Tickets brought in from another help desk (POST /api/v1/import/tickets),
-- by the id they had there: importing the same record again finds its
-- ticket instead of making another.
CREATE TABLE ticket_imports (
    external_id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL UNIQUE REFERENCES tickets (id),
    imported_at TIMESTAMP NOT NULL
);
