-- The value loop (package value; the same tables as the SQLite store's,
-- there migration 0009): objectives and features as JSON
-- (value.Objective, value.Feature), the lifecycle derived from each
-- feature's evidence (value.Lifecycle, kept current by valuesvc), the
-- transitions made by hand, the changes recognised as a feature's, and
-- when linked flags were first and last seen serving users.
CREATE TABLE objectives (
	key        TEXT PRIMARY KEY,
	definition TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE features (
	key        TEXT PRIMARY KEY,
	objective  TEXT NOT NULL REFERENCES objectives(key),
	definition TEXT NOT NULL,
	stage      TEXT NOT NULL DEFAULT 'idea',
	lifecycle  TEXT NOT NULL DEFAULT '{}',
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX features_objective ON features (objective);

CREATE TABLE feature_moves (
	feature TEXT NOT NULL REFERENCES features(key) ON DELETE CASCADE,
	seq     BIGINT NOT NULL,
	stage   TEXT NOT NULL,
	reason  TEXT NOT NULL,
	actor   TEXT NOT NULL,
	at      TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (feature, seq)
);

CREATE TABLE feature_changes (
	feature TEXT NOT NULL REFERENCES features(key) ON DELETE CASCADE,
	repo    TEXT NOT NULL,
	sha     TEXT NOT NULL,
	change  TEXT NOT NULL,
	recognised_by TEXT NOT NULL,
	PRIMARY KEY (feature, repo, sha)
);

CREATE TABLE flag_sightings (
	environment TEXT NOT NULL,
	flag        TEXT NOT NULL,
	first_seen  TIMESTAMPTZ NOT NULL,
	last_seen   TIMESTAMPTZ NOT NULL,
	users       BIGINT NOT NULL,
	PRIMARY KEY (environment, flag)
);

-- Grows with every write of the tables above: the value service caches
-- what next and flow read until it changes.
CREATE TABLE value_version (version BIGINT NOT NULL);
INSERT INTO value_version (version) VALUES (0);
