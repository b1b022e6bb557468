-- PagerDuty webhook sources (issue 16): widen the kind check of
-- delivery_sources. Numbered from 0020 to stay clear of the value
-- backlog's tables (0008 onwards).
ALTER TABLE delivery_sources DROP CONSTRAINT delivery_sources_kind_check;
ALTER TABLE delivery_sources ADD CONSTRAINT delivery_sources_kind_check CHECK (kind IN ('github', 'gitlab', 'pagerduty'));
