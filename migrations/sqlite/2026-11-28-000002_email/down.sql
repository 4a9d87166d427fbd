DROP INDEX messages_email_message_id_idx;
DROP TABLE app_secrets;
DROP TABLE imap_positions;
DROP TABLE outbox_recipients;
DROP TABLE outbox;
DROP TABLE ticket_participants;
DROP TABLE inbound_messages;
