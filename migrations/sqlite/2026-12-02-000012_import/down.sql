DROP TABLE ticket_imports;
