-- PostgreSQL's own rate for the durable work of one Relay ticket, for
-- `pgbench -n -f bench/pgbench_intake.sql` against a database migrated by
-- `relay migrate` (the real tables, indexes and foreign keys).
--
-- Per transaction, the same statements as src/intake.rs does per ticket:
-- customer insert-or-ignore, read the customer back, nextval, ticket row,
-- first message row, "created" event row, and (API customers get it too
-- since issue 10) the acknowledgement in the outbox with its recipient row
-- and "acknowledgement_sent" event, one COMMIT. 30% of tickets come
-- from a pool of 1,000 returning customers, like bench/loadgen.rs. Ticket,
-- message and event ids and the access-token hash derive from the sequence
-- number, so they are unique in any protocol mode (-M simple|prepared).
\set r random(1, 100)
\set c random(1001, 1000000000000)
\if :r <= 30
\set c random(1, 1000)
\endif
BEGIN;
INSERT INTO customers (id, email, name, organization, created_at)
VALUES ('pgb-c-' || :c::text, 'pgb-' || :c::text || '@customers.example.com',
        'Ana García', NULL, now() AT TIME ZONE 'utc')
ON CONFLICT DO NOTHING;
SELECT id, email, name, organization, created_at
FROM customers WHERE email = 'pgb-' || :c::text || '@customers.example.com' LIMIT 1;
SELECT nextval('ticket_number_seq') AS num \gset
INSERT INTO tickets (id, number, subject, status, priority, channel, queue_id,
                     assignee_id, customer_id, tags, custom_fields, language,
                     access_token_hash, follow_up_of, version, created_at,
                     updated_at, solved_at, closed_at)
VALUES ('pgb-t-' || :num::text, :num, 'Charged twice for the same subscription (#' || :num::text || ')',
        'new', 'normal', 'api', NULL, NULL, 'pgb-c-' || :c::text, '["billing","refund"]',
        '{"order_id":"ORD-' || :num::text || '","plan":"pro"}', 'en',
        encode(sha256(('pgb-h-' || :num::text)::bytea), 'hex'), NULL, 1,
        now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc', NULL, NULL);
INSERT INTO messages (id, ticket_id, author_kind, author_agent_id,
                      author_customer_id, public, channel, body_text, body_html,
                      email_message_id, email_in_reply_to, email_references,
                      created_at)
VALUES ('pgb-m-' || :num::text, 'pgb-t-' || :num::text, 'customer', NULL,
        'pgb-c-' || :c::text, TRUE, 'api',
        'Hi support team,' || chr(10) || chr(10) || repeat('I tried the steps from the help centre article but nothing changed. ', 6)
          || chr(10) || chr(10) || 'Thanks,' || chr(10) || 'Ana García',
        NULL, NULL, NULL, NULL, now() AT TIME ZONE 'utc');
INSERT INTO ticket_events (id, ticket_id, kind, actor, data, created_at)
VALUES ('pgb-e-' || :num::text, 'pgb-t-' || :num::text, 'created',
        'token:01900000-0000-7000-8000-000000000000',
        '{"channel": "api", "follow_up_of": null, "priority": "normal", "queue": null}',
        now() AT TIME ZONE 'utc');
INSERT INTO outbox (id, ticket_id, kind, subject, body_text, body_html, message_id,
                    in_reply_to, references_header, reply_to, automatic, status,
                    attempts, next_attempt_at, claimed_until, last_error,
                    created_at, sent_at, to_address)
VALUES ('pgb-o-' || :num::text, 'pgb-t-' || :num::text, 'acknowledgement',
        '[#' || :num::text || '] Charged twice for the same subscription',
        'Hello Ana García,' || chr(10) || chr(10) || 'we have received your request and opened ticket #'
          || :num::text || ':' || chr(10) || chr(10) || repeat('Our team will get back to you as soon as possible. ', 5),
        '<p>Hello Ana García,</p><p>we have received your request and opened ticket #' || :num::text
          || '</p>' || repeat('<p>Our team will get back to you as soon as possible.</p>', 10),
        'pgb-' || :num::text || '@relay.localhost', NULL, NULL,
        'support+t' || :num::text || '-0bce229f46c3@relay.localhost', TRUE, 'pending', 0,
        now() AT TIME ZONE 'utc', NULL, NULL, now() AT TIME ZONE 'utc', NULL,
        'pgb-' || :c::text || '@customers.example.com');
INSERT INTO outbox_recipients (outbox_id, email, kind, created_at)
VALUES ('pgb-o-' || :num::text, 'pgb-' || :c::text || '@customers.example.com',
        'acknowledgement', now() AT TIME ZONE 'utc');
INSERT INTO ticket_events (id, ticket_id, kind, actor, data, created_at)
VALUES ('pgb-e3-' || :num::text, 'pgb-t-' || :num::text, 'acknowledgement_sent', 'system',
        '{"outbox_id": "pgb-o-' || :num::text || '", "to": "pgb-' || :c::text || '@customers.example.com"}',
        now() AT TIME ZONE 'utc');
COMMIT;
