-- Undoes sqlite/migrations/0044_delivery_source_version.sql, for
-- TestServePreviousSchema: delivery_sources without their version.
ALTER TABLE delivery_sources DROP COLUMN version;
DELETE FROM schema_migrations WHERE name = '0044_delivery_source_version.sql';
