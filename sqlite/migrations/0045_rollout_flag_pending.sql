-- A rollback is stored before its flag is set to the baseline; a crash in
-- between left a rollout no longer active whose flag still serves the
-- variant (rollout.Rollout.FlagPending). The engine's tick finishes every
-- rollout so marked, found through the partial index. Rollbacks stored
-- before are marked: the first tick checks each once and clears the mark.
ALTER TABLE rollouts ADD COLUMN flag_pending BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE rollouts SET flag_pending = TRUE WHERE state = 'rolled_back';
CREATE INDEX rollouts_flag_pending ON rollouts (id) WHERE flag_pending;
