-- The decision of a flag's hypothesis under fixed inference at the first
-- look that reached its planned sample (experiment.FixedDecision): a
-- fixed-horizon test is read once, so later looks show this decision
-- instead of re-testing every user so far. terms are the hypothesis' terms
-- it holds for (experiment.FixedTerms); verdict is the experiment.Verdict
-- as decided, JSON. One per flag, keyed by flag key like hypotheses. The
-- same table as the SQLite store's.
CREATE TABLE fixed_decisions (
	environment TEXT NOT NULL REFERENCES environments(key) ON DELETE CASCADE,
	flag        TEXT NOT NULL,
	terms       TEXT NOT NULL,
	decision    TEXT NOT NULL CHECK (decision IN ('validated', 'invalidated', 'inconclusive')),
	verdict     TEXT NOT NULL,
	users       BIGINT NOT NULL,
	at          TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (environment, flag)
);
