package sqlstore

import "strings"

// The stored figures are read by packages sqlite and postgres on their own
// drivers (the event path is driver-native: an ingest or rebuild
// transaction reads them in its own transaction), but which cells a read
// selects is written here once, so that the two stores answer alike.

// EveryDimension asks AggregatesQuery for the cells of all users and of
// every dimension: what a rebuild compares.
const EveryDimension = "\x00every"

// AggregatesQuery is the read of the stored figures of env, of one flag or
// of all with flag "": those of all users (dimension ""), or of one
// dimension's values, or, with from ("2006-01-02"), those of all users and
// of dimension's values from from on (DayAggregatesFrom), or, with
// EveryDimension, all; ordered by flag, variant, dimension, value, metric
// and period. Its columns: flag, variant, dimension, value, metric,
// period, sums. Its placeholders are ?: run it through Dialect.Rebind.
func AggregatesQuery(env, flag, dimension, from string) (string, []any) {
	query := selectAggregates
	args := []any{env}
	if flag != "" {
		query += ` AND flag = ?`
		args = append(args, flag)
	}
	switch {
	case from != "": // DayAggregatesFrom's
		query += ` AND (dimension = '' OR (dimension = ? AND value >= ?))`
		args = append(args, dimension, from)
	case dimension != EveryDimension:
		query += ` AND dimension = ?`
		args = append(args, dimension)
	}
	return query + orderAggregates, args
}

// selectAggregates and orderAggregates are what every read of the stored
// figures selects and how it orders them: the rows readAggregates of
// either store scans.
const (
	selectAggregates = `SELECT flag, variant, dimension, value, metric, period, sums FROM event_aggregates WHERE environment = ?`
	orderAggregates  = ` ORDER BY flag, variant, dimension, value, metric, period`
)

// UserCellsQuery is the read of the cells of all users of metric "" of
// env's flags given (at least one), as AggregatesQuery answers them: the
// users per variant and split period a sample-ratio check reads
// (UserAggregates). The flags are named, not the environment read whole:
// the table's key starts with environment and flag, so that a read of the
// environment scans every cell of every flag in it.
func UserCellsQuery(env string, flags []string) (string, []any) {
	args := make([]any, 0, 1+len(flags))
	args = append(args, env)
	for _, f := range flags {
		args = append(args, f)
	}
	marks := strings.Repeat(", ?", len(flags))[2:]
	return selectAggregates + ` AND flag IN (` + marks + `) AND dimension = '' AND metric = ''` + orderAggregates, args
}
