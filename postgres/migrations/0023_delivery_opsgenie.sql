-- Opsgenie webhook sources (issue 16): widen the kind check of
-- delivery_sources. 0022 is left to the forge import of the same issue,
-- built at the same time.
ALTER TABLE delivery_sources DROP CONSTRAINT delivery_sources_kind_check;
ALTER TABLE delivery_sources ADD CONSTRAINT delivery_sources_kind_check CHECK (kind IN ('github', 'gitlab', 'pagerduty', 'opsgenie'));
