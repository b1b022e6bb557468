-- The value version (value_version) at which each feature's definition or
-- lifecycle was last written: package features reads only the features
-- changed since its cached snapshot instead of decoding all of them after
-- every write. Rows written before keep 0 and are read by the first full
-- load. Numbered from 0030 to stay clear of other areas' migrations.
ALTER TABLE features ADD COLUMN changed BIGINT NOT NULL DEFAULT 0;
CREATE INDEX features_changed ON features (changed);
