-- Rollouts (package rollout): a plan driving one flag's fractional split in
-- one environment. The flag itself lives in flags; flag_version is the
-- version the rollout last wrote or adopted, which is how the engine tells
-- its own unfinished write from someone else's edit. At most one rollout
-- per flag and environment is active (running or paused).
CREATE TABLE rollouts (
	id               INTEGER PRIMARY KEY,
	environment      TEXT NOT NULL REFERENCES environments(key) ON DELETE CASCADE,
	flag             TEXT NOT NULL,
	plan             TEXT NOT NULL,
	state            TEXT NOT NULL CHECK (state IN ('running', 'paused', 'completed', 'rolled_back')),
	step             INTEGER NOT NULL,
	percent          REAL NOT NULL,
	step_started_at  TEXT NOT NULL,
	step_start_users INTEGER NOT NULL,
	reason           TEXT NOT NULL DEFAULT '',
	acknowledged     TEXT NOT NULL DEFAULT '[]',
	flag_version     INTEGER NOT NULL,
	started_by       TEXT NOT NULL,
	started_at       TEXT NOT NULL,
	updated_at       TEXT NOT NULL,
	finished_at      TEXT,
	version          INTEGER NOT NULL
);
CREATE UNIQUE INDEX rollouts_active ON rollouts (environment, flag) WHERE state IN ('running', 'paused');
CREATE INDEX rollouts_flag ON rollouts (environment, flag, id);

-- The history of each rollout: every transition, who made it, why, and the
-- guardrail figures (JSON) a decision of the engine rested on.
CREATE TABLE rollout_events (
	id         INTEGER PRIMARY KEY,
	rollout    INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
	at         TEXT NOT NULL,
	kind       TEXT NOT NULL,
	actor      TEXT NOT NULL,
	step       INTEGER NOT NULL,
	percent    REAL NOT NULL,
	state      TEXT NOT NULL,
	reason     TEXT NOT NULL DEFAULT '',
	guardrails TEXT
);
CREATE INDEX rollout_events_rollout ON rollout_events (rollout, id);
