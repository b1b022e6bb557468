-- Undoes sqlite/migrations/0021_delivery_pagerduty.sql, for
-- TestServePreviousSchema: the kind check of delivery_sources as it was.
CREATE TABLE delivery_sources_old (
	name                TEXT PRIMARY KEY,
	kind                TEXT NOT NULL CHECK (kind IN ('github', 'gitlab')),
	secret              BLOB NOT NULL,
	incident_label      TEXT NOT NULL DEFAULT '',
	release_environment TEXT NOT NULL DEFAULT '',
	created_at          TEXT NOT NULL,
	updated_at          TEXT NOT NULL
);
INSERT INTO delivery_sources_old SELECT name, kind, secret, incident_label, release_environment, created_at, updated_at FROM delivery_sources;
DROP TABLE delivery_sources;
ALTER TABLE delivery_sources_old RENAME TO delivery_sources;
DELETE FROM schema_migrations WHERE name = '0021_delivery_pagerduty.sql';
