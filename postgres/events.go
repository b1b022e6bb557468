package postgres

import (
	"context"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/sqlstore"
)

// Metric definitions (Metrics, Metric, CreateMetric, DeleteMetric) are
// package sqlstore's, shared with SQLite; a change bumps the metrics
// counter and notifies peers (the Store's Changed hook). Their pipelines
// need nothing: the rebuild that follows a change (see httpapi) records a
// new state version, which makes every other pipeline read the definitions
// again.

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func aggregates(ctx context.Context, q querier, env, flag, dimension, from string) ([]metric.Aggregate, error) {
	query, args := sqlstore.AggregatesQuery(env, flag, dimension, from)
	return readAggregates(ctx, q, env, query, args)
}

// readAggregates runs a read of the stored figures (sqlstore's
// AggregatesQuery or UserCellsQuery) of env.
func readAggregates(ctx context.Context, q querier, env, query string, args []any) ([]metric.Aggregate, error) {
	rows, err := q.Query(ctx, dialect.Rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: read aggregates of %s: %w", env, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (metric.Aggregate, error) {
		var a metric.Aggregate
		var buf []byte
		if err := row.Scan(&a.Flag, &a.Variant, &a.Dimension, &a.Value, &a.Metric, &a.Period, &buf); err != nil {
			return a, err
		}
		if err := a.Sums.UnmarshalBinary(buf); err != nil {
			return a, fmt.Errorf("aggregate %s/%s/%s: %w", a.Flag, a.Variant, a.Metric, err)
		}
		return a, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: read aggregates of %s: %w", env, err)
	}
	return out, nil
}

// ScanLog calls fn with the stored event records of env that may hold an
// event with time ≥ since; all of them, in storage order, for since =
// math.MinInt64.
func (db *DB) ScanLog(ctx context.Context, env string, since int64, fn func(data []byte) error) error {
	return scanLog(ctx, db.pool, env, since, fn)
}

// scanLog reads the records of env: all in seq order for since =
// math.MinInt64, else those with max_time ≥ since.
func scanLog(ctx context.Context, q querier, env string, since int64, fn func(data []byte) error) error {
	var rows pgx.Rows
	var err error
	if since == math.MinInt64 {
		rows, err = q.Query(ctx, `SELECT data FROM event_log WHERE environment = $1 ORDER BY seq`, env)
	} else {
		rows, err = q.Query(ctx, `SELECT data FROM event_log WHERE environment = $1 AND max_time >= $2`, env, since)
	}
	if err != nil {
		return fmt.Errorf("postgres: scan events of %s: %w", env, err)
	}
	defer rows.Close()
	for rows.Next() {
		// RawValues stay valid until the next row: fn must not keep them,
		// which is ScanLog's contract.
		if err := fn(rows.RawValues()[0]); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: scan events of %s: %w", env, err)
	}
	return nil
}

// Events calls fn with every stored event of env, in storage order. The
// event passed is reused between calls.
func (db *DB) Events(ctx context.Context, env string, fn func(*ingest.Event) error) error {
	return db.ScanLog(ctx, env, math.MinInt64, func(data []byte) error { return ingest.DecodeLog(data, fn) })
}

// EventCount returns the number of stored events of env.
func (db *DB) EventCount(ctx context.Context, env string) (int64, error) {
	var n *int64
	if err := db.pool.QueryRow(ctx, `SELECT SUM(count)::bigint FROM event_log WHERE environment = $1`, env).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count events of %s: %w", env, err)
	}
	if n == nil {
		return 0, nil
	}
	return *n, nil
}

// putAggregates upserts cells of env in one statement.
func putAggregates(ctx context.Context, tx pgx.Tx, env string, aggs []metric.Aggregate) error {
	if len(aggs) == 0 {
		return nil
	}
	flags := make([]string, len(aggs))
	variants := make([]string, len(aggs))
	metrics := make([]string, len(aggs))
	periods := make([]int64, len(aggs))
	dims := make([]string, len(aggs))
	values := make([]string, len(aggs))
	ns := make([]int64, len(aggs))
	sums := make([][]byte, len(aggs))
	for i, a := range aggs {
		flags[i], variants[i], metrics[i], periods[i], ns[i] = a.Flag, a.Variant, a.Metric, a.Period, a.Sums.N
		dims[i], values[i] = a.Dimension, a.Value
		sums[i], _ = a.Sums.MarshalBinary()
	}
	_, err := tx.Exec(ctx, `INSERT INTO event_aggregates (environment, flag, variant, metric, period, n, sums, dimension, value)
		SELECT $1, f, v, m, p, n, s, d, dv FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bytea[], $8::text[], $9::text[]) AS c(f, v, m, p, n, s, d, dv)
		ON CONFLICT (environment, flag, variant, dimension, value, metric, period) DO UPDATE SET n = excluded.n, sums = excluded.sums`,
		env, flags, variants, metrics, periods, ns, sums, dims, values)
	if err != nil {
		return fmt.Errorf("postgres: store aggregates of %s: %w", env, err)
	}
	return nil
}

func replaceAggregates(ctx context.Context, tx pgx.Tx, env string, aggs []metric.Aggregate) error {
	if _, err := tx.Exec(ctx, `DELETE FROM event_aggregates WHERE environment = $1`, env); err != nil {
		return fmt.Errorf("postgres: clear aggregates of %s: %w", env, err)
	}
	return putAggregates(ctx, tx, env, aggs)
}
