-- The transitions of the verdict on a flag's hypothesis in one environment
-- (experiment.VerdictRecord): the first final verdict, and each final
-- verdict different from the one before, numbered per flag from 1. Keyed
-- by flag key like hypotheses: the record outlives the hypothesis. The
-- same table as the SQLite store's (there migration 0007).
CREATE TABLE verdicts (
	environment TEXT NOT NULL REFERENCES environments(key) ON DELETE CASCADE,
	flag        TEXT NOT NULL,
	seq         BIGINT NOT NULL,
	decision    TEXT NOT NULL CHECK (decision IN ('validated', 'invalidated')),
	code        TEXT NOT NULL,
	reason      TEXT NOT NULL,
	at          TIMESTAMPTZ NOT NULL,
	figures     TEXT NOT NULL,
	PRIMARY KEY (environment, flag, seq)
);
