-- Each agent's open assigned tickets (statuses new, open, pending,
-- on_hold), kept by the database on every write to tickets, so a capacity
-- check reads one number instead of counting the agent's tickets (a count
-- visits every held ticket: 4 ms at 1,000 of them in bench/claim). The app
-- never writes this column. Keep the status list in step with
-- `routing::assignment::OPEN_STATUSES`.
ALTER TABLE agents ADD COLUMN open_tickets INTEGER NOT NULL DEFAULT 0;
UPDATE agents SET open_tickets = (
    SELECT count(*) FROM tickets
    WHERE tickets.assignee_id = agents.id
      AND tickets.status IN ('new', 'open', 'pending', 'on_hold')
);
CREATE TRIGGER tickets_agent_load_insert AFTER INSERT ON tickets
WHEN NEW.assignee_id IS NOT NULL AND NEW.status IN ('new', 'open', 'pending', 'on_hold')
BEGIN
    UPDATE agents SET open_tickets = open_tickets + 1 WHERE id = NEW.assignee_id;
END;
CREATE TRIGGER tickets_agent_load_update AFTER UPDATE OF assignee_id, status ON tickets
WHEN OLD.assignee_id IS NOT NEW.assignee_id OR OLD.status IS NOT NEW.status
BEGIN
    UPDATE agents SET open_tickets = open_tickets - 1
    WHERE id = OLD.assignee_id AND OLD.status IN ('new', 'open', 'pending', 'on_hold');
    UPDATE agents SET open_tickets = open_tickets + 1
    WHERE id = NEW.assignee_id AND NEW.status IN ('new', 'open', 'pending', 'on_hold');
END;
CREATE TRIGGER tickets_agent_load_delete AFTER DELETE ON tickets
WHEN OLD.assignee_id IS NOT NULL AND OLD.status IN ('new', 'open', 'pending', 'on_hold')
BEGIN
    UPDATE agents SET open_tickets = open_tickets - 1 WHERE id = OLD.assignee_id;
END;
