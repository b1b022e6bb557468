-- Metric definitions of an environment, as JSON (ingest.Metric).
CREATE TABLE metrics (
	environment TEXT NOT NULL REFERENCES environments(key) ON DELETE CASCADE,
	key         TEXT NOT NULL,
	definition  TEXT NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (environment, key)
);

-- The raw events, one row per environment per ingest transaction, encoded by
-- package ingest (ingest.EncodeLog). Appends to one environment are
-- serialised by the row lock on event_heads, so within an environment seq
-- order is commit order: a reader that has seen seq s has seen every
-- smaller seq of that environment.
CREATE TABLE event_log (
	seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	environment TEXT NOT NULL,
	min_time    BIGINT NOT NULL,
	max_time    BIGINT NOT NULL,
	count       INTEGER NOT NULL,
	data        BYTEA NOT NULL
);
CREATE INDEX event_log_seq ON event_log (environment, seq);
CREATE INDEX event_log_time ON event_log (environment, max_time);

-- Identities of stored events that carry an id (see ingest.DedupKey).
CREATE TABLE event_ids (
	environment TEXT NOT NULL,
	time        BIGINT NOT NULL,
	hash        BIGINT NOT NULL,
	PRIMARY KEY (environment, time, hash)
);

-- The newest seq of each environment's log. Its row is locked by every
-- ingest transaction of the environment before anything else (claims
-- included), which serialises them across nodes in one consistent order.
CREATE TABLE event_heads (
	environment TEXT PRIMARY KEY,
	seq         BIGINT NOT NULL DEFAULT 0
);

-- Sufficient statistics per (flag, variant, metric), exact (ingest.Sums);
-- metric '' and variant '' hold user counts (see ingest.Aggregate).
CREATE TABLE event_aggregates (
	environment TEXT NOT NULL,
	flag        TEXT NOT NULL,
	variant     TEXT NOT NULL,
	metric      TEXT NOT NULL,
	n           BIGINT NOT NULL,
	sums        BYTEA NOT NULL,
	PRIMARY KEY (environment, flag, variant, metric)
);

-- How far the aggregates of an environment are folded: they reflect exactly
-- the log records with seq <= seq, computed with the metric definitions of
-- built_version. metrics_version is raised by every change of the
-- environment's metric definitions; built_version <> metrics_version means
-- the aggregates must be rebuilt.
CREATE TABLE event_folds (
	environment     TEXT PRIMARY KEY,
	seq             BIGINT NOT NULL DEFAULT 0,
	metrics_version BIGINT NOT NULL DEFAULT 0,
	built_version   BIGINT NOT NULL DEFAULT 0
);
