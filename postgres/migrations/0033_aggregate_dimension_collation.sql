-- dimension and value (0032) compare bytewise like the other text keys of
-- the event tables (0002): with the database's collation a language's,
-- the cells came back in another order than SQLite's and a recomputation's
-- (metric.Aggregate order), so every rebuild reported the stored cells
-- changed, and lock order of the cells was not the writers' sorted order.
ALTER TABLE event_aggregates
	ALTER COLUMN dimension TYPE TEXT COLLATE "C",
	ALTER COLUMN value TYPE TEXT COLLATE "C";
