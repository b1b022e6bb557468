-- The hypothesis of a flag's experiment in one environment, with the
-- analysis settings it is judged with, as JSON (experiment.Hypothesis
-- without the columns below). Keyed by flag key, not tied to the flags
-- table: a hypothesis outlives a flag deleted and created again.
CREATE TABLE hypotheses (
	environment TEXT NOT NULL REFERENCES environments(key) ON DELETE CASCADE,
	flag        TEXT NOT NULL,
	definition  TEXT NOT NULL,
	version     BIGINT NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL,
	updated_by  TEXT NOT NULL,
	PRIMARY KEY (environment, flag)
);
