-- PostgreSQL alone doing a claim's durable work (bench/claim's baseline):
-- lock the most urgent waiting ticket of the queue (Relay's claim order:
-- the earliest SLA due time, then priority and the longest wait), skipping those other
-- claimers hold, assign it, and record the assignment, in one transaction.
-- Each client is one agent claiming for itself, as in Relay's run (the
-- agents.open_tickets trigger then never makes two clients wait on one
-- agent's row).
\set agent :client_id + 1
WITH next AS (
    SELECT id FROM tickets
    WHERE queue_id = 'bench-queue' AND assignee_id IS NULL AND status IN ('new', 'open')
    ORDER BY (sla_due_at IS NULL), sla_due_at, CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END, queued_at, number
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE tickets t
    SET assignee_id = 'bench-agent-' || :agent, version = t.version + 1, updated_at = now(), queued_at = NULL
    FROM next WHERE t.id = next.id
    RETURNING t.id
)
INSERT INTO ticket_events (id, ticket_id, kind, actor, data, created_at)
SELECT md5(CAST(random() AS text) || CAST(clock_timestamp() AS text)), id, 'assigned', 'system',
       '{"from": null, "to": {"agent_id": "bench-agent", "vendor_id": "bench-vendor"}, "by": "claim"}', now()
FROM claimed;
