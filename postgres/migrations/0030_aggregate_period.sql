-- Results after a rollout (issue 15): each cell of event_aggregates is kept
-- per split period of the users' first exposure (metric.Aggregate.Period, 0
-- for a split that never changed). The cells kept so far are all of period 0;
-- the engine's new version rebuilds them from the event log at the next write.
-- Numbered from 0030 to stay clear of the other areas' migrations.
ALTER TABLE event_aggregates ADD COLUMN period BIGINT NOT NULL DEFAULT 0;
ALTER TABLE event_aggregates DROP CONSTRAINT event_aggregates_pkey;
ALTER TABLE event_aggregates ADD PRIMARY KEY (environment, flag, variant, metric, period);
