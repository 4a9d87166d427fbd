DROP TRIGGER tickets_agent_load_delete;
DROP TRIGGER tickets_agent_load_update;
DROP TRIGGER tickets_agent_load_insert;
ALTER TABLE agents DROP COLUMN open_tickets;
