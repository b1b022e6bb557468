-- Undoes sqlite/migrations/0045_rollout_flag_pending.sql, for
-- TestServePreviousSchema: rollouts without their flag-write-pending mark.
DROP INDEX rollouts_flag_pending;
ALTER TABLE rollouts DROP COLUMN flag_pending;
DELETE FROM schema_migrations WHERE name = '0045_rollout_flag_pending.sql';
