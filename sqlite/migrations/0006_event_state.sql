-- Per environment of the event tables: a small integer id that keys the
-- large tables below (integer keys compare faster than text), and the
-- version (metric definitions) and generation (one more per transaction
-- that changes it) of its per-user state, and the bytes of its user log.
CREATE TABLE event_state (
	id             INTEGER PRIMARY KEY,
	environment    TEXT NOT NULL UNIQUE,
	version        TEXT NOT NULL DEFAULT '',
	generation     INTEGER NOT NULL DEFAULT 0,
	user_log_bytes INTEGER NOT NULL DEFAULT 0
);
INSERT INTO event_state (environment)
	SELECT environment FROM event_ids
	UNION SELECT environment FROM event_log
	UNION SELECT environment FROM event_aggregates;

-- Identities of stored events that carry an id, as event_ids was, keyed by
-- the environment's id.
CREATE TABLE event_keys (
	env  INTEGER NOT NULL,
	time INTEGER NOT NULL,
	hash INTEGER NOT NULL,
	PRIMARY KEY (env, time, hash)
) WITHOUT ROWID;
INSERT INTO event_keys (env, time, hash)
	SELECT s.id, i.time, i.hash FROM event_ids i JOIN event_state s USING (environment);
DROP TABLE event_ids;

-- The per-user state (ingest's encoding) of every user with events, as of
-- the last compaction of the user log.
CREATE TABLE event_users (
	env      INTEGER NOT NULL,
	user_key TEXT NOT NULL,
	state    BLOB NOT NULL,
	PRIMARY KEY (env, user_key)
) WITHOUT ROWID;

-- The new states of the users each transaction changed, one row per
-- transaction: appending one row is far cheaper than updating a thousand
-- random rows of event_users. Compaction writes the latest states into
-- event_users and deletes the rows.
CREATE TABLE event_user_log (
	seq   INTEGER PRIMARY KEY,
	env   INTEGER NOT NULL,
	count INTEGER NOT NULL,
	data  BLOB NOT NULL
);
