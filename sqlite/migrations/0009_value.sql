-- The value loop (package value): objectives and features as JSON
-- (value.Objective, value.Feature), the lifecycle derived from each
-- feature's evidence (value.Lifecycle, kept current by valuesvc), the
-- transitions made by hand, the changes recognised as a feature's, and
-- when linked flags were first and last seen serving users.
CREATE TABLE objectives (
	key        TEXT PRIMARY KEY,
	definition TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);

CREATE TABLE features (
	key        TEXT PRIMARY KEY,
	objective  TEXT NOT NULL REFERENCES objectives(key),
	definition TEXT NOT NULL,
	stage      TEXT NOT NULL DEFAULT 'idea',
	lifecycle  TEXT NOT NULL DEFAULT '{}',
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX features_objective ON features (objective);

CREATE TABLE feature_moves (
	feature TEXT NOT NULL REFERENCES features(key) ON DELETE CASCADE,
	seq     INTEGER NOT NULL,
	stage   TEXT NOT NULL,
	reason  TEXT NOT NULL,
	actor   TEXT NOT NULL,
	at      TEXT NOT NULL,
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
	first_seen  TEXT NOT NULL,
	last_seen   TEXT NOT NULL,
	users       INTEGER NOT NULL,
	PRIMARY KEY (environment, flag)
);

-- Grows with every write of the tables above: the value service caches
-- what next and flow read until it changes.
CREATE TABLE value_version (version INTEGER NOT NULL);
INSERT INTO value_version (version) VALUES (0);
