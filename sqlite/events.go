package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/ingest"
)

var _ ingest.Store = (*DB)(nil)

// Metrics returns the metric definitions of env, ordered by key.
func (db *DB) Metrics(ctx context.Context, env string) ([]ingest.Metric, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT definition, created_at, updated_at FROM metrics WHERE environment = ? ORDER BY key`, env)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list metrics of %s: %w", env, err)
	}
	defer rows.Close()
	var out []ingest.Metric
	for rows.Next() {
		m, err := scanMetric(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *m)
	}
	return out, rows.Err()
}

// Metric returns one metric definition; ENOTFOUND when there is none.
func (db *DB) Metric(ctx context.Context, env, key string) (*ingest.Metric, error) {
	row := db.db.QueryRowContext(ctx, `SELECT definition, created_at, updated_at FROM metrics WHERE environment = ? AND key = ?`, env, key)
	m, err := scanMetric(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, valueloop.Errorf(valueloop.ENOTFOUND, "metric %q not found in environment %q", key, env)
	}
	return m, err
}

func scanMetric(row interface{ Scan(...any) error }) (*ingest.Metric, error) {
	var def, created, updated string
	if err := row.Scan(&def, &created, &updated); err != nil {
		return nil, err
	}
	var m ingest.Metric
	if err := json.Unmarshal([]byte(def), &m); err != nil {
		return nil, fmt.Errorf("sqlite: metric definition: %w", err)
	}
	var err error
	if m.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if m.UpdatedAt, err = parseTime(updated); err != nil {
		return nil, err
	}
	return &m, nil
}

// CreateMetric stores a new metric definition (already normalised) and sets
// its times; ECONFLICT when the key exists, ENOTFOUND without the
// environment.
func (db *DB) CreateMetric(ctx context.Context, env string, m *ingest.Metric, actor string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		now := db.Now().UTC()
		m.CreatedAt, m.UpdatedAt = now, now
		def, err := json.Marshal(m)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO metrics (environment, key, definition, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			env, m.Key, string(def), formatTime(now), formatTime(now))
		if err != nil {
			err = domainError(err)
			if valueloop.ErrorCode(err) == valueloop.ECONFLICT {
				return valueloop.Errorf(valueloop.ECONFLICT, "metric %q already exists in environment %q", m.Key, env)
			}
			if valueloop.ErrorCode(err) == valueloop.ENOTFOUND {
				return valueloop.Errorf(valueloop.ENOTFOUND, "environment %q not found", env)
			}
			return err
		}
		return db.audit(ctx, tx, actor, env, "metric.create", m.Key, nil, def, "")
	})
}

// DeleteMetric removes a metric definition; ENOTFOUND when there is none.
// Its aggregates go when the pipeline rebuilds the environment.
func (db *DB) DeleteMetric(ctx context.Context, env, key, actor string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		var def string
		err := tx.QueryRowContext(ctx, `DELETE FROM metrics WHERE environment = ? AND key = ? RETURNING definition`, env, key).Scan(&def)
		if errors.Is(err, sql.ErrNoRows) {
			return valueloop.Errorf(valueloop.ENOTFOUND, "metric %q not found in environment %q", key, env)
		} else if err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, env, "metric.delete", key, []byte(def), nil, "")
	})
}

// Aggregates returns the stored figures of env, of one flag or of all with
// flag "", ordered by flag, variant and metric. It reads only the aggregate
// rows: its cost does not grow with the number of events or users.
func (db *DB) Aggregates(ctx context.Context, env, flag string) ([]ingest.Aggregate, error) {
	q := `SELECT flag, variant, metric, sums FROM event_aggregates WHERE environment = ?`
	args := []any{env}
	if flag != "" {
		q += ` AND flag = ?`
		args = append(args, flag)
	}
	rows, err := db.db.QueryContext(ctx, q+` ORDER BY flag, variant, metric`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read aggregates of %s: %w", env, err)
	}
	defer rows.Close()
	var out []ingest.Aggregate
	for rows.Next() {
		var a ingest.Aggregate
		var buf []byte
		if err := rows.Scan(&a.Flag, &a.Variant, &a.Metric, &buf); err != nil {
			return nil, err
		}
		if err := a.Sums.UnmarshalBinary(buf); err != nil {
			return nil, fmt.Errorf("sqlite: aggregate %s/%s/%s: %w", a.Flag, a.Variant, a.Metric, err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ScanLog calls fn with the stored event records of env that may hold an
// event with time ≥ since; all of them, in storage order, for since =
// math.MinInt64.
func (db *DB) ScanLog(ctx context.Context, env string, since int64, fn func(data []byte) error) error {
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	return scanLog(ctx, tx, env, since, fn)
}

func scanLog(ctx context.Context, tx *sql.Tx, env string, since int64, fn func(data []byte) error) error {
	var rows *sql.Rows
	var err error
	if since == math.MinInt64 {
		rows, err = tx.QueryContext(ctx, `SELECT data FROM event_log NOT INDEXED WHERE environment = ? ORDER BY seq`, env)
	} else {
		rows, err = tx.QueryContext(ctx, `SELECT data FROM event_log WHERE environment = ? AND max_time >= ?`, env, since)
	}
	if err != nil {
		return fmt.Errorf("sqlite: scan events of %s: %w", env, err)
	}
	defer rows.Close()
	var data sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&data); err != nil {
			return err
		}
		if err := fn(data); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Events calls fn with every stored event of env, in storage order. The
// event passed is reused between calls.
func (db *DB) Events(ctx context.Context, env string, fn func(*ingest.Event) error) error {
	return db.ScanLog(ctx, env, math.MinInt64, func(data []byte) error { return ingest.DecodeLog(data, fn) })
}

// IngestTx runs fn in one write transaction (see ingest.Store).
func (db *DB) IngestTx(ctx context.Context, fn func(ingest.Tx) error) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		return fn(&eventTx{db: db, ctx: ctx, tx: tx})
	})
}

type eventTx struct {
	db  *DB
	ctx context.Context
	tx  *sql.Tx
}

// claimRows is the number of keys per INSERT statement.
const claimRows = 256

var claimSQL = sync.OnceValue(func() map[int]string {
	m := map[int]string{}
	for _, n := range []int{claimRows, 64, 16, 4, 1} {
		var b strings.Builder
		b.WriteString(`INSERT INTO event_ids (environment, time, hash) VALUES `)
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "(?1, ?%d, ?%d)", 2+2*i, 3+2*i)
		}
		b.WriteString(` ON CONFLICT DO NOTHING RETURNING time, hash`)
		m[n] = b.String()
	}
	return m
})

func (t *eventTx) Claim(env string, keys []ingest.DedupKey) ([]bool, error) {
	inserted := make(map[ingest.DedupKey]int, len(keys))
	args := make([]any, 0, 1+2*claimRows)
	for rest := keys; len(rest) > 0; {
		n := claimRows
		for n > len(rest) {
			n /= 4
		}
		args = append(args[:0], env)
		for _, k := range rest[:n] {
			args = append(args, k.Time, k.Hash)
		}
		rest = rest[n:]
		rows, err := t.tx.QueryContext(t.ctx, claimSQL()[n], args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: claim event ids: %w", err)
		}
		for rows.Next() {
			var k ingest.DedupKey
			if err := rows.Scan(&k.Time, &k.Hash); err != nil {
				rows.Close()
				return nil, err
			}
			inserted[k]++
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	out := make([]bool, len(keys))
	for i, k := range keys {
		if inserted[k] > 0 {
			out[i] = true
			inserted[k] = 0 // repeats of a key within keys are duplicates
		}
	}
	return out, nil
}

func (t *eventTx) ScanLog(env string, since int64, fn func(data []byte) error) error {
	return scanLog(t.ctx, t.tx, env, since, fn)
}

func (t *eventTx) Append(env string, rec ingest.LogRecord) error {
	_, err := t.tx.ExecContext(t.ctx, `INSERT INTO event_log (environment, min_time, max_time, count, data) VALUES (?, ?, ?, ?, ?)`,
		env, rec.MinTime, rec.MaxTime, rec.Count, rec.Data)
	if err != nil {
		return fmt.Errorf("sqlite: append events: %w", err)
	}
	return nil
}

func (t *eventTx) PutAggregates(env string, aggs []ingest.Aggregate) error {
	for _, a := range aggs {
		buf, _ := a.Sums.MarshalBinary()
		_, err := t.tx.ExecContext(t.ctx, `INSERT INTO event_aggregates (environment, flag, variant, metric, n, sums) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (environment, flag, variant, metric) DO UPDATE SET n = excluded.n, sums = excluded.sums`,
			env, a.Flag, a.Variant, a.Metric, a.Sums.N, buf)
		if err != nil {
			return fmt.Errorf("sqlite: store aggregate %s/%s/%s: %w", a.Flag, a.Variant, a.Metric, err)
		}
	}
	return nil
}

func (t *eventTx) ReplaceAggregates(env string, aggs []ingest.Aggregate) error {
	if _, err := t.tx.ExecContext(t.ctx, `DELETE FROM event_aggregates WHERE environment = ?`, env); err != nil {
		return fmt.Errorf("sqlite: clear aggregates of %s: %w", env, err)
	}
	return t.PutAggregates(env, aggs)
}

// EventCount returns the number of stored events of env.
func (db *DB) EventCount(ctx context.Context, env string) (int64, error) {
	var n sql.NullInt64
	err := db.db.QueryRowContext(ctx, `SELECT SUM(count) FROM event_log WHERE environment = ?`, env).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count events of %s: %w", env, err)
	}
	return n.Int64, nil
}
