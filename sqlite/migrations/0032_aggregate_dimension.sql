-- Results by dimension (issue 15): each variant cell of event_aggregates is
-- kept once more per value of each configured dimension (a context
-- attribute of the exposure, metric.Dimension); dimension and value are ''
-- for the cells of all users. SQLite cannot change a primary key, so the
-- table is rebuilt; the cells kept so far are all of every user.
CREATE TABLE event_aggregates_new (
	environment TEXT NOT NULL,
	flag        TEXT NOT NULL,
	variant     TEXT NOT NULL,
	metric      TEXT NOT NULL,
	period      INTEGER NOT NULL DEFAULT 0,
	dimension   TEXT NOT NULL DEFAULT '',
	value       TEXT NOT NULL DEFAULT '',
	n           INTEGER NOT NULL,
	sums        BLOB NOT NULL,
	PRIMARY KEY (environment, flag, variant, dimension, value, metric, period)
) WITHOUT ROWID;
INSERT INTO event_aggregates_new (environment, flag, variant, metric, period, n, sums)
	SELECT environment, flag, variant, metric, period, n, sums FROM event_aggregates;
DROP TABLE event_aggregates;
ALTER TABLE event_aggregates_new RENAME TO event_aggregates;
