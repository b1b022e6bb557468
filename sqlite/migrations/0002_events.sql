-- Metric definitions of an environment, as JSON (ingest.Metric).
CREATE TABLE metrics (
	environment TEXT NOT NULL REFERENCES environments(key) ON DELETE CASCADE,
	key         TEXT NOT NULL,
	definition  TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL,
	PRIMARY KEY (environment, key)
);

-- The raw events, one row per environment per ingest transaction, encoded
-- compactly by package ingest (ingest.EncodeLog). Appending one row per
-- thousands of events is what lets SQLite take hundreds of thousands of
-- events a second; min_time/max_time let a history scan skip records that
-- cannot hold an event newer than a given time.
CREATE TABLE event_log (
	seq         INTEGER PRIMARY KEY,
	environment TEXT NOT NULL,
	min_time    INTEGER NOT NULL,
	max_time    INTEGER NOT NULL,
	count       INTEGER NOT NULL,
	data        BLOB NOT NULL
);
CREATE INDEX event_log_time ON event_log (environment, max_time);

-- Identities of stored events that carry an id: their time as sent (ms, 0
-- when none) and a 64-bit hash of the id. Time first keeps inserts
-- append-mostly.
CREATE TABLE event_ids (
	environment TEXT NOT NULL,
	time        INTEGER NOT NULL,
	hash        INTEGER NOT NULL,
	PRIMARY KEY (environment, time, hash)
) WITHOUT ROWID;

-- Sufficient statistics per (flag, variant, metric), exact (ingest.Sums);
-- metric '' and variant '' hold user counts (see ingest.Aggregate).
CREATE TABLE event_aggregates (
	environment TEXT NOT NULL,
	flag        TEXT NOT NULL,
	variant     TEXT NOT NULL,
	metric      TEXT NOT NULL,
	n           INTEGER NOT NULL,
	sums        BLOB NOT NULL,
	PRIMARY KEY (environment, flag, variant, metric)
) WITHOUT ROWID;
