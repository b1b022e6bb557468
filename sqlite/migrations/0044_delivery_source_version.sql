-- The version of a webhook source (delivery.Source.Version): 1 when made,
-- one more at every write, so that a write made from what was read
-- (If-Match, `delivery source set`) refuses to overwrite a change made in
-- between. Sources made before start at 1.
ALTER TABLE delivery_sources ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
