package sqlstore

// The stored figures are read by packages sqlite and postgres on their own
// drivers (the event path is driver-native: an ingest or rebuild
// transaction reads them in its own transaction), but which cells a read
// selects is written here once, so that the two stores answer alike.

// EveryDimension asks AggregatesQuery for the cells of all users and of
// every dimension: what a rebuild compares.
const EveryDimension = "\x00every"

// UserCells asks AggregatesQuery for the cells of all users of metric ""
// only: the users per variant and split period a sample-ratio check reads
// (UserAggregates).
const UserCells = "\x00users"

// AggregatesQuery is the read of the stored figures of env, of one flag or
// of all with flag "": those of all users (dimension ""), or of one
// dimension's values, or, with from ("2006-01-02"), those of all users and
// of dimension's values from from on (DayAggregatesFrom), or, with
// EveryDimension, all, or, with UserCells, the users' counts alone;
// ordered by flag, variant, dimension, value, metric and period. Its columns: flag, variant, dimension, value, metric,
// period, sums. Its placeholders are ?: run it through Dialect.Rebind.
func AggregatesQuery(env, flag, dimension, from string) (string, []any) {
	query := `SELECT flag, variant, dimension, value, metric, period, sums FROM event_aggregates WHERE environment = ?`
	args := []any{env}
	if flag != "" {
		query += ` AND flag = ?`
		args = append(args, flag)
	}
	switch {
	case from != "": // DayAggregatesFrom's
		query += ` AND (dimension = '' OR (dimension = ? AND value >= ?))`
		args = append(args, dimension, from)
	case dimension == UserCells:
		query += ` AND dimension = '' AND metric = ''`
	case dimension != EveryDimension:
		query += ` AND dimension = ?`
		args = append(args, dimension)
	}
	return query + ` ORDER BY flag, variant, dimension, value, metric, period`, args
}
