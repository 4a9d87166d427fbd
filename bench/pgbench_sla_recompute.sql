-- bench/sla's baseline: the durable reads of `relay sla recompute` for one
-- batch of 500 tickets, as its statements (src/tickets/recompute.rs,
-- src/sla/reading.rs): the batch's rows locked and loaded, then each
-- ticket's history, summary, clocks and notices, ordered by ticket. The
-- caller sets :batches (tickets / 500); a transaction reads a batch at random.
\set batch random(0, :batches - 1)
SELECT id, number FROM tickets WHERE number > 10000 + :batch * 500 ORDER BY number LIMIT 500;
BEGIN;
SELECT * FROM tickets WHERE number > 10000 + :batch * 500 AND number <= 10500 + :batch * 500
  ORDER BY id FOR UPDATE;
SELECT * FROM ticket_events WHERE ticket_id IN
  (SELECT id FROM tickets WHERE number > 10000 + :batch * 500 AND number <= 10500 + :batch * 500)
  ORDER BY ticket_id, created_at, id;
SELECT * FROM ticket_sla WHERE ticket_id IN
  (SELECT id FROM tickets WHERE number > 10000 + :batch * 500 AND number <= 10500 + :batch * 500);
SELECT * FROM sla_clocks WHERE ticket_id IN
  (SELECT id FROM tickets WHERE number > 10000 + :batch * 500 AND number <= 10500 + :batch * 500)
  ORDER BY ticket_id, metric, cycle;
SELECT * FROM sla_notices WHERE ticket_id IN
  (SELECT id FROM tickets WHERE number > 10000 + :batch * 500 AND number <= 10500 + :batch * 500);
COMMIT;
