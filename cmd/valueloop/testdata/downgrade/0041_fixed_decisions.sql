-- Undoes sqlite/migrations/0041_fixed_decisions.sql, for
-- TestServePreviousSchema: no stored decisions under fixed inference.
DROP TABLE fixed_decisions;
DELETE FROM schema_migrations WHERE name = '0041_fixed_decisions.sql';
