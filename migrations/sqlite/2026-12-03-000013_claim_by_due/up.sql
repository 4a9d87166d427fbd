-- Claims and push assignment take the waiting ticket whose earliest
-- running SLA clock is due first (tickets without one after those with
-- one, then by urgency and the longest wait). The due time is copied from
-- `ticket_sla.due_at` by the write that changes it (`sla::tracking`), so
-- that one index range of `tickets` answers the claim, as before; it moves
-- only when the ticket changes or a recompute moves its clocks, never by
-- the scanner, and is not part of the ticket's version.
ALTER TABLE tickets ADD COLUMN sla_due_at TIMESTAMP;
UPDATE tickets SET sla_due_at = (SELECT due_at FROM ticket_sla WHERE ticket_sla.ticket_id = tickets.id);
DROP INDEX tickets_waiting;
CREATE INDEX tickets_waiting ON tickets (queue_id, (sla_due_at IS NULL), sla_due_at, (CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END), queued_at, number) WHERE assignee_id IS NULL;
