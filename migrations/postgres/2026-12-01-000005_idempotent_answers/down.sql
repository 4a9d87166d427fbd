DROP TABLE app_settings;
ALTER TABLE idempotency_keys DROP COLUMN answer;
