DROP TRIGGER tickets_agent_load_delete ON tickets;
DROP TRIGGER tickets_agent_load_update ON tickets;
DROP TRIGGER tickets_agent_load_insert ON tickets;
DROP FUNCTION tickets_keep_agent_load();
ALTER TABLE agents DROP COLUMN open_tickets;
