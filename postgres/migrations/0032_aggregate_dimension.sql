-- Results by dimension (issue 15): each variant cell of event_aggregates is
-- kept once more per value of each configured dimension (a context
-- attribute of the exposure, metric.Dimension); dimension and value are ''
-- for the cells of all users, which every cell kept so far is.
ALTER TABLE event_aggregates ADD COLUMN dimension TEXT NOT NULL DEFAULT '';
ALTER TABLE event_aggregates ADD COLUMN value TEXT NOT NULL DEFAULT '';
ALTER TABLE event_aggregates DROP CONSTRAINT event_aggregates_pkey;
ALTER TABLE event_aggregates ADD PRIMARY KEY (environment, flag, variant, dimension, value, metric, period);
