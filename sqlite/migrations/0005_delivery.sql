-- Delivery metrics (packages delivery and deliverysvc).
--
-- Webhook sources: one GitHub or GitLab webhook each. The secret is kept as
-- given, not hashed: verifying GitHub's HMAC signature needs the secret
-- itself. It is never returned by the API.
CREATE TABLE delivery_sources (
	name                TEXT PRIMARY KEY,
	kind                TEXT NOT NULL CHECK (kind IN ('github', 'gitlab')),
	secret              BLOB NOT NULL,
	incident_label      TEXT NOT NULL DEFAULT '',
	release_environment TEXT NOT NULL DEFAULT '',
	created_at          TEXT NOT NULL,
	updated_at          TEXT NOT NULL
);

-- The service catalog: services, their team and where their code lives
-- (JSON [{"repo": "owner/name", "path": "services/x"}]).
CREATE TABLE delivery_services (
	name       TEXT PRIMARY KEY,
	team       TEXT NOT NULL DEFAULT '',
	sources    TEXT NOT NULL,
	updated_at TEXT NOT NULL
);

-- Every delivery received: a webhook delivery or one API call. (source,
-- delivery_id) is unique, which is what makes redelivery idempotent. The
-- records a delivery brought are stored with it in the same transaction.
-- Record times are Unix nanoseconds (UTC): the records are the bulk of the
-- data and are read in full to build the timeline.
CREATE TABLE delivery_deliveries (
	id          INTEGER PRIMARY KEY,
	source      TEXT NOT NULL,
	delivery_id TEXT NOT NULL,
	kind        TEXT NOT NULL,
	received_at TEXT NOT NULL,
	ignored     TEXT NOT NULL DEFAULT '',
	records     INTEGER NOT NULL DEFAULT 0,
	UNIQUE (source, delivery_id)
);

CREATE TABLE delivery_changes (
	id          INTEGER PRIMARY KEY,
	delivery    INTEGER NOT NULL REFERENCES delivery_deliveries(id) ON DELETE CASCADE,
	repo        TEXT NOT NULL,
	service     TEXT NOT NULL,
	sha         TEXT NOT NULL,
	pr          TEXT NOT NULL,
	branch      TEXT NOT NULL,
	paths       TEXT,
	authored_at INTEGER NOT NULL,
	merged_at   INTEGER
);
CREATE INDEX delivery_changes_sha ON delivery_changes (sha);

CREATE TABLE delivery_deployments (
	id            INTEGER PRIMARY KEY,
	delivery      INTEGER NOT NULL REFERENCES delivery_deliveries(id) ON DELETE CASCADE,
	deployment_id TEXT NOT NULL,
	service       TEXT NOT NULL,
	repo          TEXT NOT NULL,
	environment   TEXT NOT NULL,
	production    INTEGER NOT NULL,
	sha           TEXT NOT NULL,
	version       TEXT NOT NULL,
	status        TEXT NOT NULL,
	at            INTEGER NOT NULL,
	rollback      INTEGER NOT NULL
);

-- Incident snapshots: the latest of an incident_id wins.
CREATE TABLE delivery_incidents (
	id            INTEGER PRIMARY KEY,
	delivery      INTEGER NOT NULL REFERENCES delivery_deliveries(id) ON DELETE CASCADE,
	incident_id   TEXT NOT NULL,
	service       TEXT NOT NULL,
	repo          TEXT NOT NULL,
	title         TEXT NOT NULL,
	opened_at     INTEGER NOT NULL,
	resolved_at   INTEGER,
	updated_at    INTEGER,
	deployment_id TEXT NOT NULL,
	cause_sha     TEXT NOT NULL,
	void          INTEGER NOT NULL
);
CREATE INDEX delivery_incidents_id ON delivery_incidents (incident_id, id);

-- Changes linked to a feature flag (valueloop-flag trailers and labels,
-- `change record --flag`), for the loop's own figures. repo is empty for a
-- change named by service only.
CREATE TABLE delivery_flag_changes (
	flag     TEXT NOT NULL,
	repo     TEXT NOT NULL,
	sha      TEXT NOT NULL,
	delivery INTEGER NOT NULL REFERENCES delivery_deliveries(id) ON DELETE CASCADE,
	PRIMARY KEY (flag, repo, sha)
);

-- A counter bumped by every write to the tables above, so that a cached
-- timeline can tell cheaply whether it is behind.
CREATE TABLE delivery_version (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL
);
INSERT INTO delivery_version (id, version) VALUES (1, 0);
