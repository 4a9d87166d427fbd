ALTER TABLE messages DROP COLUMN automatic;
