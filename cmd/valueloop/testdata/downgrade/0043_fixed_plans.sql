-- Undoes sqlite/migrations/0043_fixed_plans.sql, for
-- TestServePreviousSchema: no stored plans under fixed inference.
DROP TABLE fixed_plans;
DELETE FROM schema_migrations WHERE name = '0043_fixed_plans.sql';
