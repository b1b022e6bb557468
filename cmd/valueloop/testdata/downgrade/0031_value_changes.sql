-- Undoes sqlite/migrations/0031_value_changes.sql, for
-- TestServePreviousSchema: features without the version of their last
-- write (the upgraded store then reads every feature once, as it did).
DROP INDEX features_changed;
ALTER TABLE features DROP COLUMN changed;
DELETE FROM schema_migrations WHERE name = '0031_value_changes.sql';
