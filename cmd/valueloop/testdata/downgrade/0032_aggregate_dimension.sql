-- Undoes sqlite/migrations/0032_aggregate_dimension.sql, for
-- TestServePreviousSchema: event_aggregates without dimensions. The cells
-- by dimension value are dropped; those of all users are kept as they are.
CREATE TABLE event_aggregates_old (
	environment TEXT NOT NULL,
	flag        TEXT NOT NULL,
	variant     TEXT NOT NULL,
	metric      TEXT NOT NULL,
	period      INTEGER NOT NULL DEFAULT 0,
	n           INTEGER NOT NULL,
	sums        BLOB NOT NULL,
	PRIMARY KEY (environment, flag, variant, metric, period)
) WITHOUT ROWID;
INSERT INTO event_aggregates_old SELECT environment, flag, variant, metric, period, n, sums FROM event_aggregates WHERE dimension = '';
DROP TABLE event_aggregates;
ALTER TABLE event_aggregates_old RENAME TO event_aggregates;
DELETE FROM schema_migrations WHERE name = '0032_aggregate_dimension.sql';
