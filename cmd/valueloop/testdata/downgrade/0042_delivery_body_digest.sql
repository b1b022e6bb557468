-- Undoes sqlite/migrations/0042_delivery_body_digest.sql, for
-- TestServePreviousSchema: deliveries without their body's digest.
DROP INDEX delivery_deliveries_body;
ALTER TABLE delivery_deliveries DROP COLUMN body_digest;
DELETE FROM schema_migrations WHERE name = '0042_delivery_body_digest.sql';
