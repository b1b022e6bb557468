-- The planned sample of a flag's hypothesis under fixed inference, fixed
-- at the first look that could compute it (experiment.FixedPlan): what is
-- fixed is the test's precision, so the look that decides is then the
-- first whose arms' users give it, whatever the spread does later. terms
-- are the hypothesis' terms it holds for (the same as fixed_decisions');
-- users is the planned sample per treatment at the split then, JSON
-- ({"treatment": 2000}); inputs what the pilot estimated per treatment
-- (experiment.PlanInputs, JSON): the plan is sized at each look's split
-- from them; fixed_on the users analysed when it was fixed.
-- One per flag, keyed by flag key like hypotheses. The
-- same table as the SQLite store's.
CREATE TABLE fixed_plans (
	environment TEXT NOT NULL REFERENCES environments(key) ON DELETE CASCADE,
	flag        TEXT NOT NULL,
	terms       TEXT NOT NULL,
	users       TEXT NOT NULL,
	inputs      TEXT NOT NULL,
	fixed_on    BIGINT NOT NULL,
	at          TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (environment, flag)
);
