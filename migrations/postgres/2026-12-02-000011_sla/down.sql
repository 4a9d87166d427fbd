DROP TABLE sla_notices;
DROP TABLE sla_clocks;
DROP INDEX ticket_sla_due;
DROP INDEX ticket_sla_attention;
DROP TABLE ticket_sla;
DROP TABLE sla_policy_versions;
DROP TABLE sla_policies;
