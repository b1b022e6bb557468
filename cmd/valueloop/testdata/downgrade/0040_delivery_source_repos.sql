-- Undoes sqlite/migrations/0040_delivery_source_repos.sql, for
-- TestServePreviousSchema: delivery_sources without the repos column.
ALTER TABLE delivery_sources DROP COLUMN repos;
DELETE FROM schema_migrations WHERE name = '0040_delivery_source_repos.sql';
