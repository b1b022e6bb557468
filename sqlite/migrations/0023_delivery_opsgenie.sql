-- Opsgenie webhook sources (issue 16): widen the kind check of
-- delivery_sources. SQLite cannot alter a CHECK, so the table is rebuilt;
-- nothing references it. 0022 is left to the forge import of the same
-- issue, built at the same time.
CREATE TABLE delivery_sources_new (
	name                TEXT PRIMARY KEY,
	kind                TEXT NOT NULL CHECK (kind IN ('github', 'gitlab', 'pagerduty', 'opsgenie')),
	secret              BLOB NOT NULL,
	incident_label      TEXT NOT NULL DEFAULT '',
	release_environment TEXT NOT NULL DEFAULT '',
	created_at          TEXT NOT NULL,
	updated_at          TEXT NOT NULL
);
INSERT INTO delivery_sources_new (name, kind, secret, incident_label, release_environment, created_at, updated_at)
	SELECT name, kind, secret, incident_label, release_environment, created_at, updated_at FROM delivery_sources;
DROP TABLE delivery_sources;
ALTER TABLE delivery_sources_new RENAME TO delivery_sources;
