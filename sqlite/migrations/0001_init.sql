-- Environments hold one flagd flag set each: the flags (one row per flag below),
-- the shared $evaluators and the set-level metadata. version grows with every
-- committed change so that other nodes and caches can tell whether they are
-- behind.
CREATE TABLE environments (
	key         TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	production  INTEGER NOT NULL DEFAULT 0,
	evaluators  TEXT NOT NULL DEFAULT '{}',
	metadata    TEXT NOT NULL DEFAULT '{}',
	version     INTEGER NOT NULL DEFAULT 0,
	created_at  TEXT NOT NULL
);

CREATE TABLE flags (
	environment TEXT NOT NULL REFERENCES environments(key) ON DELETE CASCADE,
	key         TEXT NOT NULL,
	definition  TEXT NOT NULL,
	version     INTEGER NOT NULL,
	updated_at  TEXT NOT NULL,
	PRIMARY KEY (environment, key)
);

-- Tokens are stored as SHA-256 hashes of the secret; the secret is shown once.
CREATE TABLE tokens (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL,
	scope       TEXT NOT NULL CHECK (scope IN ('evaluate', 'admin')),
	environment TEXT NOT NULL DEFAULT '',
	hash        BLOB NOT NULL UNIQUE,
	created_at  TEXT NOT NULL,
	revoked_at  TEXT
);

-- Every change to configuration: who, when, what (before and after) and why.
CREATE TABLE audit (
	id          INTEGER PRIMARY KEY,
	at          TEXT NOT NULL,
	actor       TEXT NOT NULL,
	environment TEXT NOT NULL DEFAULT '',
	action      TEXT NOT NULL,
	target      TEXT NOT NULL,
	before      TEXT,
	after       TEXT,
	reason      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_environment_target ON audit (environment, target, id);
