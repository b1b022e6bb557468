-- Lead time breakdown (dora.Breakdown; issue 16). Numbered from 0020 to
-- stay clear of the value backlog's tables (0008 onwards).
--
-- When a change's pull or merge request was opened (Unix ns; NULL for a
-- commit or when unknown), and the reviews and approvals of pull and merge
-- requests: the first of a request ends its pickup.
ALTER TABLE delivery_changes ADD COLUMN opened_at INTEGER;

CREATE TABLE delivery_reviews (
	id       INTEGER PRIMARY KEY,
	delivery INTEGER NOT NULL REFERENCES delivery_deliveries(id) ON DELETE CASCADE,
	repo     TEXT NOT NULL,
	pr       TEXT NOT NULL,
	at       INTEGER NOT NULL
);
