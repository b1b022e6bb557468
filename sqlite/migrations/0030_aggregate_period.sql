-- Results after a rollout (issue 15): each cell of event_aggregates is kept
-- per split period of the users' first exposure (metric.Aggregate.Period, 0
-- for a split that never changed). SQLite cannot change a primary key, so the
-- table is rebuilt; the cells kept so far are all of period 0, and the
-- engine's new version rebuilds them from the event log at the next write.
-- Numbered from 0030 to stay clear of the other areas' migrations.
CREATE TABLE event_aggregates_new (
	environment TEXT NOT NULL,
	flag        TEXT NOT NULL,
	variant     TEXT NOT NULL,
	metric      TEXT NOT NULL,
	period      INTEGER NOT NULL DEFAULT 0,
	n           INTEGER NOT NULL,
	sums        BLOB NOT NULL,
	PRIMARY KEY (environment, flag, variant, metric, period)
) WITHOUT ROWID;
INSERT INTO event_aggregates_new (environment, flag, variant, metric, period, n, sums)
	SELECT environment, flag, variant, metric, 0, n, sums FROM event_aggregates;
DROP TABLE event_aggregates;
ALTER TABLE event_aggregates_new RENAME TO event_aggregates;
