DROP TABLE csat_surveys;
ALTER TABLE queues DROP COLUMN handle_seconds;
DROP INDEX tickets_solved_at;
DROP INDEX messages_by_agent_created;
DROP INDEX sla_clocks_settled;
ALTER TABLE sla_clocks DROP COLUMN vendor_id;
ALTER TABLE sla_clocks DROP COLUMN queue_id;
ALTER TABLE sla_clocks DROP COLUMN settled_at;
