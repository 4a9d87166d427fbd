DROP INDEX tickets_waiting;
CREATE INDEX tickets_waiting ON tickets (queue_id, (CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END), queued_at, number) WHERE assignee_id IS NULL;
ALTER TABLE tickets DROP COLUMN sla_due_at;
