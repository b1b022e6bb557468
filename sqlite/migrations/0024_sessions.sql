-- Sessions of the web dashboard, kept here so that they survive a restart
-- and every node of a cluster knows them. The cookie's identifier is never
-- stored, only its SHA-256; a session ends with its token (revoking a token
-- deletes them, and a read joins the token).
CREATE TABLE sessions (
	hash       BLOB PRIMARY KEY,
	token_id   INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL
);
CREATE INDEX sessions_token ON sessions (token_id, created_at);
CREATE INDEX sessions_expires ON sessions (expires_at);
