-- bench/sla's baseline: the durable reads of `relay sla recompute` for one
-- batch of 500 tickets, as its statements (src/tickets/recompute.rs,
-- src/sla/reading.rs): the batch's ids by number, then in one transaction
-- their rows locked and loaded, each ticket's history, summary, clocks and
-- notices, ordered by ticket, the ids bound as one array as Relay binds
-- them. The caller sets :batches (tickets / 500); a transaction reads a
-- batch at random.
\set batch random(0, :batches - 1)
SELECT array_agg(id ORDER BY number)::text AS ids
  FROM (SELECT id, number FROM tickets WHERE number > 10000 + :batch * 500 ORDER BY number LIMIT 500) batch \gset
BEGIN;
SELECT * FROM tickets WHERE id = ANY (:ids::text[]) ORDER BY id FOR UPDATE;
SELECT * FROM ticket_events WHERE ticket_id = ANY (:ids::text[]) ORDER BY ticket_id, created_at, id;
SELECT * FROM ticket_sla WHERE ticket_id = ANY (:ids::text[]);
SELECT * FROM sla_clocks WHERE ticket_id = ANY (:ids::text[]) ORDER BY ticket_id, metric, cycle;
SELECT * FROM sla_notices WHERE ticket_id = ANY (:ids::text[]);
COMMIT;
