-- PostgreSQL alone running the claim's transaction statement for statement
-- as Relay does (bench/claim's second baseline): read the token with its
-- agent and the queue, then in one transaction lock the most urgent waiting
-- ticket with its customer, write it back whole, and record the
-- assignment. Against bench/pgbench_claim.sql (the same durable work in one
-- statement) the ratio also prices the round trips of the seam's separate
-- statements; against this one it prices what Relay adds itself.
\set agent :client_id + 1
SELECT t.id, t.role, t.last_used_at, a.id, a.role, a.vendor_id, a.active, a.capacity, a.shift_calendar_id,
       a.open_tickets, q.id, q.vendor_id, q.assignment_strategy, q.skill_matching, v.mask_customer_pii
FROM api_tokens t
LEFT JOIN agents a ON a.id = t.agent_id
LEFT JOIN queues q ON q.id = 'bench-queue' OR q.slug = 'bench-queue'
LEFT JOIN vendors v ON v.id = q.vendor_id
WHERE t.agent_id = 'bench-agent-' || :agent AND t.revoked_at IS NULL
LIMIT 1;
BEGIN;
SELECT t.id AS next_id, t.version AS next_version, t.number, t.subject, t.status, t.priority, t.channel, t.queue_id,
       t.customer_id, t.tags, t.custom_fields, t.language, t.access_token_hash, t.follow_up_of, t.created_at,
       t.updated_at, t.solved_at, t.closed_at, t.sla_policy_id, t.queued_at,
       (SELECT email FROM customers c WHERE c.id = t.customer_id) AS customer_email,
       (SELECT name FROM customers c WHERE c.id = t.customer_id) AS customer_name,
       (SELECT organization FROM customers c WHERE c.id = t.customer_id) AS customer_organization,
       (SELECT created_at FROM customers c WHERE c.id = t.customer_id) AS customer_since,
       (SELECT due_at FROM ticket_sla s WHERE s.ticket_id = t.id) AS sla_due_at,
       (SELECT state FROM ticket_sla s WHERE s.ticket_id = t.id) AS sla_state
FROM tickets t
WHERE t.queue_id = 'bench-queue' AND t.assignee_id IS NULL AND t.status IN ('new', 'open')
ORDER BY (t.sla_due_at IS NULL), t.sla_due_at, CASE t.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END, t.queued_at, t.number
LIMIT 1
FOR UPDATE SKIP LOCKED \gset
UPDATE tickets
SET subject = subject, status = status, priority = priority, queue_id = queue_id,
    assignee_id = 'bench-agent-' || :agent, tags = tags, custom_fields = custom_fields, language = language,
    version = version + 1, updated_at = now(), solved_at = solved_at, closed_at = closed_at,
    sla_policy_id = sla_policy_id, queued_at = NULL
WHERE id = :next_id AND version = :next_version;
INSERT INTO ticket_events (id, ticket_id, kind, actor, data, created_at)
VALUES (md5(CAST(random() AS text) || CAST(clock_timestamp() AS text)), :next_id, 'assigned', 'system',
        '{"from": null, "to": {"agent_id": "bench-agent", "vendor_id": "bench-vendor"}, "by": "claim"}', now());
END;
