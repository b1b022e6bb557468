-- Undoes sqlite/migrations/0030_aggregate_period.sql, for
-- TestServePreviousSchema: event_aggregates without the period. Cells of
-- later periods cannot be folded into one here (their sums are encoded);
-- they are dropped, and the upgrade's engine version rebuilds every cell
-- from the event log anyway.
CREATE TABLE event_aggregates_old (
	environment TEXT NOT NULL,
	flag        TEXT NOT NULL,
	variant     TEXT NOT NULL,
	metric      TEXT NOT NULL,
	n           INTEGER NOT NULL,
	sums        BLOB NOT NULL,
	PRIMARY KEY (environment, flag, variant, metric)
) WITHOUT ROWID;
INSERT INTO event_aggregates_old SELECT environment, flag, variant, metric, n, sums FROM event_aggregates WHERE period = 0;
DROP TABLE event_aggregates;
ALTER TABLE event_aggregates_old RENAME TO event_aggregates;
DELETE FROM schema_migrations WHERE name = '0030_aggregate_period.sql';
