package sqlstore

import (
	"context"
	"strings"

	"github.com/valueloop/valueloop/metric"
)

// The stored figures are read by packages sqlite and postgres on their own
// drivers (the event path is driver-native: an ingest or rebuild
// transaction reads them in its own transaction, through the same code as
// Options.ReadAggregates), but which cells a read selects, and the read
// methods below, are written here once, so that the two stores answer
// alike.

// Aggregates returns the stored figures of all users of env, of one flag or
// of all with flag "", ordered by flag, variant and metric: they include
// every acknowledged event, whichever node received it. It reads only the
// aggregate rows: its cost does not grow with the number of events or
// users.
func (s *Store) Aggregates(ctx context.Context, env, flag string) ([]metric.Aggregate, error) {
	query, args := AggregatesQuery(env, flag, "", "")
	return s.o.ReadAggregates(ctx, env, query, args)
}

// DimensionAggregates returns the stored figures of one flag of env per
// value of dimension (not ""), ordered by variant, value and metric.
func (s *Store) DimensionAggregates(ctx context.Context, env, flag, dimension string) ([]metric.Aggregate, error) {
	query, args := AggregatesQuery(env, flag, dimension, "")
	return s.o.ReadAggregates(ctx, env, query, args)
}

// DayAggregatesFrom returns, in one read, the stored figures of all users
// of one flag of env and those by UTC day of first exposure
// (metric.ExposureDayDimension) of the days from from ("2006-01-02") on:
// those whose windows may still be open, which an analysis reads without
// the days before (experiment.ReadDays), so that its cost does not grow
// with the days the flag has run. One read, so that all users' cells less
// the days' are of one moment whatever is written meanwhile.
func (s *Store) DayAggregatesFrom(ctx context.Context, env, flag, from string) ([]metric.Aggregate, error) {
	query, args := AggregatesQuery(env, flag, metric.ExposureDayDimension, from)
	return s.o.ReadAggregates(ctx, env, query, args)
}

// FlagsAggregates returns, in one read, the stored figures of the flags
// given of env (none: none), each flag's as DimensionAggregates reads them
// of dimension ("": all users'), or with from as DayAggregatesFrom does:
// what experiment.ReadInputs reads of many flags. The flags are named, not
// the environment read whole (see UserCellsQuery).
func (s *Store) FlagsAggregates(ctx context.Context, env string, flags []string, dimension, from string) ([]metric.Aggregate, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	query, args := flagsAggregatesQuery(env, flags, dimension, from)
	return s.o.ReadAggregates(ctx, env, query, args)
}

// UserAggregates returns the stored counts of users of the flags given of
// env per variant and split period (the cells of all users of metric ""),
// without any metric's figures: what a sample-ratio check reads
// (experiment.SampleRatio), a few rows where Aggregates reads one per
// metric as well; none without a flag.
func (s *Store) UserAggregates(ctx context.Context, env string, flags ...string) ([]metric.Aggregate, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	query, args := UserCellsQuery(env, flags)
	return s.o.ReadAggregates(ctx, env, query, args)
}

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
	if flag == "" {
		return flagsAggregatesQuery(env, nil, dimension, from)
	}
	return flagsAggregatesQuery(env, []string{flag}, dimension, from)
}

// flagsAggregatesQuery is AggregatesQuery of the flags given, of all with
// none.
func flagsAggregatesQuery(env string, flags []string, dimension, from string) (string, []any) {
	query := selectAggregates
	args := []any{env}
	switch len(flags) {
	case 0:
	case 1: // one flag's read, as it always was
		query += ` AND flag = ?`
		args = append(args, flags[0])
	default:
		in, names := inList(flags)
		query += ` AND flag ` + in
		args = append(args, names...)
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
	in, args := flagsIn(env, flags)
	return selectAggregates + ` AND flag ` + in + ` AND dimension = '' AND metric = ''` + orderAggregates, args
}

// flagsIn is a read of env's flags given (at least one): "IN (?, ?, …)",
// one mark a flag, and the arguments, env first for the query's
// "environment = ?".
func flagsIn(env string, flags []string) (string, []any) {
	in, args := inList(flags)
	return in, append([]any{env}, args...)
}

// inList is "IN (?, ?, …)" for values (at least one), one mark a value,
// and its arguments.
func inList(values []string) (string, []any) {
	args := make([]any, 0, len(values))
	for _, v := range values {
		args = append(args, v)
	}
	return `IN (` + strings.Repeat(", ?", len(values))[2:] + `)`, args
}
