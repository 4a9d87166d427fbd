-- PostgreSQL's own rate for the durable work of one new email ticket, for
-- `pgbench -n -f bench/pgbench_email.sql` against a database migrated by
-- `relay migrate` (the real tables, indexes and foreign keys). bench/email
-- runs it with as many clients as it has senders and reports Relay/raw.
--
-- Per transaction, the rows src/email/ingest.rs commits for a new message,
-- each written once with its final values: the raw message (~3 KB bytea,
-- unique dedupe key), customer insert-or-ignore and read back, nextval, the
-- ticket, its first message (with the email threading columns), the
-- "created" and "email_received" events, the acknowledgement in the outbox,
-- its recipient row and its "acknowledgement_sent" event, one COMMIT. Customers come from a pool of 2,000
-- like bench/mailgen.rs. Ids, Message-IDs and the access-token hash derive
-- from the sequence number, so they are unique in any protocol mode. (pgbench
-- reads `:name` even inside quotes: literals put a space or a quote after ':'.)
--
-- What Relay does per message beyond this floor (reads and second writes):
-- the bearer-token lookup, the reply-address secret, the Message-ID lookups
-- for threading, the hourly acknowledgement count, UPDATE inbound_messages
-- (outcome, ticket) and UPDATE messages (HTML and email headers) after the
-- inserts. Replies and 100 KB attachments in the Relay mix are not modelled
-- here: the ratio is informational.
\set c random(1, 2000)
BEGIN;
INSERT INTO customers (id, email, name, organization, created_at)
VALUES ('pgb-c-' || :c::text, 'pgb-' || :c::text || '@customers.example.com',
        'Inés Müller', NULL, now() AT TIME ZONE 'utc')
ON CONFLICT DO NOTHING;
SELECT id, email, name, organization, created_at
FROM customers WHERE email = 'pgb-' || :c::text || '@customers.example.com' LIMIT 1;
SELECT nextval('ticket_number_seq') AS num \gset
INSERT INTO tickets (id, number, subject, status, priority, channel, queue_id,
                     assignee_id, customer_id, tags, custom_fields, language,
                     access_token_hash, follow_up_of, version, created_at,
                     updated_at, solved_at, closed_at)
VALUES ('pgb-t-' || :num::text, :num, 'Invoice shows the wrong VAT number (order ORD-' || :num::text || ')',
        'new', 'normal', 'email', NULL, NULL, 'pgb-c-' || :c::text, '[]', '{}', NULL,
        encode(sha256(('pgb-h-' || :num::text)::bytea), 'hex'), NULL, 1,
        now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc', NULL, NULL);
INSERT INTO messages (id, ticket_id, author_kind, author_agent_id,
                      author_customer_id, public, channel, body_text, body_html,
                      email_message_id, email_in_reply_to, email_references,
                      created_at)
VALUES ('pgb-m-' || :num::text, 'pgb-t-' || :num::text, 'customer', NULL,
        'pgb-c-' || :c::text, TRUE, 'email',
        'Hi support team,' || chr(10) || chr(10) || repeat('The invoice lists 40 seats, but our contract is for 32 seats at 12,50 € each. ', 6)
          || chr(10) || chr(10) || 'Thanks,' || chr(10) || 'Inés Müller' || chr(10) || 'Fabrikam GmbH',
        NULL, 'CA+pgb' || :num::text || '@mail.gmail.com', NULL, NULL,
        now() AT TIME ZONE 'utc');
INSERT INTO ticket_events (id, ticket_id, kind, actor, data, created_at)
VALUES ('pgb-e1-' || :num::text, 'pgb-t-' || :num::text, 'created',
        'customer:' || 'pgb-c-' || :c::text,
        '{"channel": "email", "follow_up_of": null, "priority": "normal", "queue": null}',
        now() AT TIME ZONE 'utc');
INSERT INTO ticket_events (id, ticket_id, kind, actor, data, created_at)
VALUES ('pgb-e2-' || :num::text, 'pgb-t-' || :num::text, 'email_received',
        'customer:' || 'pgb-c-' || :c::text,
        '{"automatic": false, "recipients": ["support@relay.localhost"], "refused_attachments": [], "source": "http"}',
        now() AT TIME ZONE 'utc');
INSERT INTO outbox (id, ticket_id, kind, subject, body_text, body_html, message_id,
                    in_reply_to, references_header, reply_to, automatic, status,
                    attempts, next_attempt_at, claimed_until, last_error,
                    created_at, sent_at)
VALUES ('pgb-o-' || :num::text, 'pgb-t-' || :num::text, 'acknowledgement',
        '[#' || :num::text || '] Invoice shows the wrong VAT number',
        'Hello Inés Müller,' || chr(10) || chr(10) || 'we have received your request and opened ticket #'
          || :num::text || ':' || chr(10) || chr(10) || repeat('Our team will get back to you as soon as possible. ', 5),
        '<p>Hello Inés Müller,</p><p>we have received your request and opened ticket #' || :num::text
          || '</p>' || repeat('<p>Our team will get back to you as soon as possible.</p>', 10),
        'pgb-' || :num::text || '@relay.localhost',
        'CA+pgb' || :num::text || '@mail.gmail.com', '<CA+pgb' || :num::text || '@mail.gmail.com>',
        'support+t' || :num::text || '-0bce229f46c3@relay.localhost', TRUE, 'pending', 0,
        now() AT TIME ZONE 'utc', NULL, NULL, now() AT TIME ZONE 'utc', NULL);
INSERT INTO outbox_recipients (outbox_id, email, kind, created_at)
VALUES ('pgb-o-' || :num::text, 'pgb-' || :c::text || '@customers.example.com',
        'acknowledgement', now() AT TIME ZONE 'utc');
INSERT INTO ticket_events (id, ticket_id, kind, actor, data, created_at)
VALUES ('pgb-e3-' || :num::text, 'pgb-t-' || :num::text, 'acknowledgement_sent', 'system',
        '{"outbox_id": "pgb-o-' || :num::text || '", "to": "pgb-' || :c::text || '@customers.example.com"}',
        now() AT TIME ZONE 'utc');
-- The raw message: ~3 KB that compresses about as badly as real mail does.
INSERT INTO inbound_messages (id, dedupe_key, source, raw, size, outcome, reason,
                              ticket_id, received_at)
SELECT 'pgb-i-' || :num::text, 'mid:' || 'ca+pgb' || :num::text || '@mail.gmail.com', 'http',
       raw, length(raw), 'created', NULL, 'pgb-t-' || :num::text, now() AT TIME ZONE 'utc'
FROM (SELECT convert_to(string_agg(md5(:num::text || '.' || g::text), chr(10)), 'UTF8') AS raw
      FROM generate_series(1, 91) AS g) AS m;
COMMIT;
