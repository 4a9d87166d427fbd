-- bench/claim's queue: one vendor, one pull queue, :agents agents (capacity
-- raised in the database beyond the API's 1,000, so capacity never ends
-- the run) and :tickets waiting tickets. Plain SQL both SQLite and
-- PostgreSQL accept (the caller substitutes AGENTS and TICKETS).
INSERT INTO vendors (id, name, timezone, mask_customer_pii, created_at, updated_at)
VALUES ('bench-vendor', 'Bench Vendor', 'UTC', FALSE, '2026-12-01 00:00:00', '2026-12-01 00:00:00');
INSERT INTO queues (id, slug, name, vendor_id, assignment_strategy, created_at, updated_at, skill_matching)
VALUES ('bench-queue', 'bench', 'Bench', 'bench-vendor', 'pull', '2026-12-01 00:00:00', '2026-12-01 00:00:00', FALSE);
INSERT INTO customers (id, email, created_at) VALUES ('bench-customer', 'bench@example.com', '2026-12-01 00:00:00');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < AGENTS)
INSERT INTO agents (id, name, email, vendor_id, role, skills, capacity, active, created_at, updated_at, available)
SELECT 'bench-agent-' || i, 'Agent ' || i, 'agent' || i || '@bench.example', 'bench-vendor', 'agent', '[]', 1000000, TRUE,
       '2026-12-01 00:00:00', '2026-12-01 00:00:00', TRUE
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < TICKETS)
INSERT INTO tickets (id, number, subject, status, priority, channel, queue_id, customer_id, tags, custom_fields,
                     access_token_hash, version, created_at, updated_at, queued_at)
SELECT 'bench-ticket-' || i, 10000 + i, 'Bench ticket ' || i, 'new',
       CASE i % 10 WHEN 0 THEN 'urgent' WHEN 1 THEN 'high' WHEN 2 THEN 'low' ELSE 'normal' END, 'api', 'bench-queue', 'bench-customer',
       '[]', '{}', 'hash-' || i, 1, '2026-12-01 00:00:00', '2026-12-01 00:00:00', '2026-12-01 00:00:00'
FROM n;
