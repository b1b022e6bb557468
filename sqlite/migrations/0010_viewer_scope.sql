-- Viewer tokens: read everything, change nothing. SQLite cannot alter a
-- CHECK constraint, so the table is rebuilt with the same rows and ids.
CREATE TABLE tokens_new (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL,
	scope        TEXT NOT NULL CHECK (scope IN ('evaluate', 'viewer', 'admin')),
	environment  TEXT NOT NULL DEFAULT '',
	hash         BLOB NOT NULL UNIQUE,
	created_at   TEXT NOT NULL,
	revoked_at   TEXT,
	client       BOOLEAN NOT NULL DEFAULT FALSE,
	origins      TEXT NOT NULL DEFAULT '',
	no_exposures BOOLEAN NOT NULL DEFAULT FALSE
);
INSERT INTO tokens_new (id, name, scope, environment, hash, created_at, revoked_at, client, origins, no_exposures)
	SELECT id, name, scope, environment, hash, created_at, revoked_at, client, origins, no_exposures FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;
