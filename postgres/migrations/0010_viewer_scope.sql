-- Viewer tokens: read everything, change nothing.
ALTER TABLE tokens DROP CONSTRAINT tokens_scope_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_scope_check CHECK (scope IN ('evaluate', 'viewer', 'admin'));
