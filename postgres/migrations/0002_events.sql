-- Metric definitions of an environment, as JSON (ingest.Metric).
CREATE TABLE metrics (
	environment TEXT NOT NULL REFERENCES environments(key) ON DELETE CASCADE,
	key         TEXT NOT NULL,
	definition  TEXT NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (environment, key)
);

-- The event tables compare their text keys bytewise (COLLATE "C"): that is
-- what makes their large indexes fast whatever the database's collation.

-- The raw events, one row per environment per ingest transaction, encoded by
-- package ingest (ingest.EncodeLog). min_time/max_time let a history scan
-- skip records that cannot hold an event newer than a given time.
CREATE TABLE event_log (
	seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	environment TEXT COLLATE "C" NOT NULL,
	min_time    BIGINT NOT NULL,
	max_time    BIGINT NOT NULL,
	count       INTEGER NOT NULL,
	data        BYTEA NOT NULL
);
CREATE INDEX event_log_seq ON event_log (environment, seq);
CREATE INDEX event_log_time ON event_log (environment, max_time);

-- Identities of stored events that carry an id (see ingest.DedupKey).
CREATE TABLE event_ids (
	environment TEXT COLLATE "C" NOT NULL,
	time        BIGINT NOT NULL,
	hash        BIGINT NOT NULL,
	PRIMARY KEY (environment, time, hash)
);

-- Per environment, the per-user state of event ingestion (ingest.StateStore):
-- its version (it names the metric definitions it was computed with), its
-- generation (one more per transaction that changed users), the generation
-- up to which the user log is compacted into event_users, and the size of
-- the user log.
CREATE TABLE event_state (
	environment TEXT COLLATE "C" PRIMARY KEY,
	version     TEXT NOT NULL DEFAULT '',
	generation  BIGINT NOT NULL DEFAULT 0,
	compacted   BIGINT NOT NULL DEFAULT 0,
	log_bytes   BIGINT NOT NULL DEFAULT 0
);

-- The per-user state (ingest's encoding) of every user with events, as of
-- the last compaction of the user log.
CREATE TABLE event_users (
	environment TEXT COLLATE "C" NOT NULL,
	user_key    TEXT COLLATE "C" NOT NULL,
	state       BYTEA NOT NULL,
	PRIMARY KEY (environment, user_key)
);

-- The new states of the users each transaction changed, one row per
-- transaction (its generation): appending one row is far cheaper than
-- updating thousands of random rows of event_users. Nodes catch up with the
-- rows of the others; compaction writes the latest states into event_users
-- and deletes the rows.
CREATE TABLE event_user_log (
	environment TEXT COLLATE "C" NOT NULL,
	generation  BIGINT NOT NULL,
	data        BYTEA NOT NULL,
	PRIMARY KEY (environment, generation)
);

-- Sufficient statistics per (flag, variant, metric), exact (ingest.Sums);
-- metric '' and variant '' hold user counts (see ingest.Aggregate). Writers
-- add their changes under the row lock of each cell.
CREATE TABLE event_aggregates (
	environment TEXT COLLATE "C" NOT NULL,
	flag        TEXT COLLATE "C" NOT NULL,
	variant     TEXT COLLATE "C" NOT NULL,
	metric      TEXT COLLATE "C" NOT NULL,
	n           BIGINT NOT NULL,
	sums        BYTEA NOT NULL,
	PRIMARY KEY (environment, flag, variant, metric)
);

-- The encoded records are compact already: store them out of line without
-- compression, which would cost the writers more CPU than it saves.
ALTER TABLE event_log ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE event_user_log ALTER COLUMN data SET STORAGE EXTERNAL;
