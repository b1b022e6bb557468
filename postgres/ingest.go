package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/sqlstore"
)

// The store keeps the per-user state of event ingestion (ingest.StateStore),
// so that every node's pipeline writes exact aggregates, whichever node
// received the other events of the same users. What serialises them:
//
//   - the state version of an environment is read under an advisory lock,
//     shared by ingest transactions and exclusive for a rebuild;
//   - the environment's row is locked in share mode (SplitsVersion), so
//     that no change of its flags' splits commits meanwhile (see
//     ingest.SplitStore); a rebuild locks it last, after its recomputation;
//   - event ids are claimed under the environment's writer lock (below);
//   - the transactions that change an environment's users hold its writer
//     lock (an advisory lock) from reading the users to the end, so no two
//     nodes update users of one environment at once, and one that waited
//     reads the states the other committed (users.go);
//   - the aggregate cells are row-locked in key order, their stored sums
//     read, the transaction's changes added, and written back.
//
// Every transaction takes these locks in that order, in key order within
// each, so two nodes never wait for each other in opposite orders.

var (
	_ ingest.Store      = (*DB)(nil)
	_ ingest.StateStore = (*DB)(nil)
	_ ingest.SplitStore = (*DB)(nil)
	_ ingest.SplitTx    = (*eventTx)(nil)
)

// Advisory lock classes of environments' event state: the state version
// (shared by writers, exclusive for a rebuild) and the writers of users.
const (
	lockState   int32 = 0x564c0003
	lockWriters int32 = 0x564c0004
)

// IngestTx runs fn in one write transaction (ingest.Store). With this store
// the pipeline writes through StateTx.
func (db *DB) IngestTx(ctx context.Context, fn func(ingest.Tx) error) error {
	return db.eventTx(ctx, func(t *eventTx) error { return fn(t) })
}

// StateTx runs fn in one write transaction (ingest.StateStore). It is not
// retried: fn changes the caller's state.
func (db *DB) StateTx(ctx context.Context, fn func(ingest.StateTx) error) error {
	return db.eventTx(ctx, func(t *eventTx) error { return fn(t) })
}

func (db *DB) eventTx(ctx context.Context, fn func(*eventTx) error) error {
	t := &eventTx{db: db, ctx: ctx, locked: map[string]bool{}, writer: map[string]bool{}, userTx: map[string]*txUsers{}}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		t.tx = tx
		return fn(t)
	})
	t.finish(err == nil)
	return domainError(err)
}

type eventTx struct {
	db     *DB
	ctx    context.Context
	tx     pgx.Tx
	locked map[string]bool // environments whose state lock is held
	writer map[string]bool // environments whose writer lock is held
	userTx map[string]*txUsers
}

// StateVersion locks env's event state (shared, or exclusive for a rebuild)
// and returns its version.
func (t *eventTx) StateVersion(env string, exclusive bool) (string, error) {
	lock := `SELECT pg_advisory_xact_lock_shared($1, $2)`
	if exclusive {
		lock = `SELECT pg_advisory_xact_lock($1, $2)`
	}
	if _, err := t.tx.Exec(t.ctx, lock, lockState, t.db.lockKey("events:"+env)); err != nil {
		return "", fmt.Errorf("postgres: lock event state of %s: %w", env, err)
	}
	t.locked[env] = true
	var v string
	err := t.tx.QueryRow(t.ctx, `SELECT version FROM event_state WHERE environment = $1`, env).Scan(&v)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("postgres: read event state of %s: %w", env, err)
	}
	return v, nil
}

// SplitsVersion returns env's version of flags and locks its row in share
// mode until the transaction ends (ingest.SplitTx): a change of flags locks
// it for update before it takes its time, so it waits for this transaction
// and is timed after it, and this one waits for a change under way.
func (t *eventTx) SplitsVersion(env string) (int64, error) {
	var v int64
	err := t.tx.QueryRow(t.ctx, `SELECT version FROM environments WHERE key = $1 FOR SHARE`, env).Scan(&v)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("postgres: flags' version of %s: %w", env, err)
	}
	return v, nil
}

// Claim records the ids of events under env's writer lock. With no other
// writer of env, the usual batch (no id stored before) is one plain INSERT,
// in a savepoint; only when it hits a stored id does Claim look the ids up
// and insert the new ones. Both cost far less than INSERT … ON CONFLICT,
// which inserts speculatively.
func (t *eventTx) Claim(env string, keys []ingest.DedupKey) ([]bool, error) {
	if err := t.lockWriters(env); err != nil {
		return nil, err
	}
	times := make([]int64, 0, len(keys))
	hashes := make([]int64, 0, len(keys))
	first := make(map[ingest.DedupKey]int, len(keys)) // key → index of its first occurrence
	for i, k := range keys {
		if _, ok := first[k]; !ok {
			first[k] = i
			times, hashes = append(times, k.Time), append(hashes, k.Hash)
		}
	}
	const insert = `INSERT INTO event_ids (environment, time, hash) SELECT $1, t, h FROM unnest($2::bigint[], $3::bigint[]) AS k(t, h)`
	sp, err := t.tx.Begin(t.ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim event ids: %w", err)
	}
	_, err = sp.Exec(t.ctx, insert, env, times, hashes)
	var pe *pgconn.PgError
	switch {
	case err == nil:
		if err := sp.Commit(t.ctx); err != nil {
			return nil, fmt.Errorf("postgres: claim event ids: %w", err)
		}
	case errors.As(err, &pe) && pe.Code == "23505":
		if err := sp.Rollback(t.ctx); err != nil {
			return nil, fmt.Errorf("postgres: claim event ids: %w", err)
		}
		rows, err := t.tx.Query(t.ctx, `SELECT e.time, e.hash FROM unnest($2::bigint[], $3::bigint[]) AS k(t, h)
			JOIN event_ids e ON e.environment = $1 AND e.time = k.t AND e.hash = k.h`, env, times, hashes)
		if err != nil {
			return nil, fmt.Errorf("postgres: look up event ids: %w", err)
		}
		var k ingest.DedupKey
		if _, err := pgx.ForEachRow(rows, []any{&k.Time, &k.Hash}, func() error {
			delete(first, k) // stored before
			return nil
		}); err != nil {
			return nil, fmt.Errorf("postgres: look up event ids: %w", err)
		}
		times, hashes = times[:0], hashes[:0]
		for k := range first {
			times, hashes = append(times, k.Time), append(hashes, k.Hash)
		}
		if len(times) > 0 {
			if _, err := t.tx.Exec(t.ctx, insert, env, times, hashes); err != nil {
				return nil, fmt.Errorf("postgres: claim event ids: %w", err)
			}
		}
	default:
		return nil, fmt.Errorf("postgres: claim event ids: %w", err)
	}
	out := make([]bool, len(keys))
	for _, i := range first {
		out[i] = true
	}
	return out, nil
}

// lockWriters serialises the transactions that change env's users, across
// nodes, until the transaction ends.
func (t *eventTx) lockWriters(env string) error {
	if t.writer[env] {
		return nil
	}
	if _, err := t.tx.Exec(t.ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockWriters, t.db.lockKey("events:"+env)); err != nil {
		return fmt.Errorf("postgres: lock the users of %s: %w", env, err)
	}
	t.writer[env] = true
	return nil
}

func (t *eventTx) ScanLog(env string, since int64, fn func(data []byte) error) error {
	return scanLog(t.ctx, t.tx, env, since, fn)
}

func (t *eventTx) Append(env string, rec ingest.LogRecord) error {
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO event_log (environment, min_time, max_time, count, data) VALUES ($1, $2, $3, $4, $5)`,
		env, rec.MinTime, rec.MaxTime, rec.Count, rec.Data); err != nil {
		return fmt.Errorf("postgres: append events: %w", err)
	}
	return nil
}

func cellOrder(a, b metric.Aggregate) int {
	if c := strings.Compare(a.Flag, b.Flag); c != 0 {
		return c
	}
	if c := strings.Compare(a.Variant, b.Variant); c != 0 {
		return c
	}
	if c := strings.Compare(a.Dimension, b.Dimension); c != 0 {
		return c
	}
	if c := strings.Compare(a.Value, b.Value); c != 0 {
		return c
	}
	if c := strings.Compare(a.Metric, b.Metric); c != 0 {
		return c
	}
	return cmp.Compare(a.Period, b.Period)
}

// AddAggregates locks the cells of deltas in key order, adds the deltas to
// their stored sums and writes them back.
func (t *eventTx) AddAggregates(env string, deltas []metric.Aggregate) error {
	if len(deltas) == 0 {
		return nil
	}
	deltas = slices.SortedFunc(slices.Values(deltas), cellOrder)
	flags := make([]string, len(deltas))
	variants := make([]string, len(deltas))
	metrics := make([]string, len(deltas))
	periods := make([]int64, len(deltas))
	dims := make([]string, len(deltas))
	values := make([]string, len(deltas))
	for i, d := range deltas {
		flags[i], variants[i], metrics[i], periods[i] = d.Flag, d.Variant, d.Metric, d.Period
		dims[i], values[i] = d.Dimension, d.Value
	}
	zero, _ := (&metric.Sums{}).MarshalBinary()
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO event_aggregates (environment, flag, variant, metric, period, n, sums, dimension, value)
		SELECT $1, f, v, m, p, 0, $6, d, dv FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $7::text[], $8::text[]) AS c(f, v, m, p, d, dv)
		ON CONFLICT DO NOTHING`, env, flags, variants, metrics, periods, zero, dims, values); err != nil {
		return fmt.Errorf("postgres: create aggregates of %s: %w", env, err)
	}
	rows, err := t.tx.Query(t.ctx, `SELECT a.flag, a.variant, a.dimension, a.value, a.metric, a.period, a.sums FROM event_aggregates a
		JOIN unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[]) AS c(f, v, m, p, d, dv)
			ON a.flag = c.f AND a.variant = c.v AND a.metric = c.m AND a.period = c.p AND a.dimension = c.d AND a.value = c.dv
		WHERE a.environment = $1 ORDER BY a.flag, a.variant, a.dimension, a.value, a.metric, a.period FOR UPDATE OF a`, env, flags, variants, metrics, periods, dims, values)
	if err != nil {
		return fmt.Errorf("postgres: lock aggregates of %s: %w", env, err)
	}
	type cell struct {
		flag, variant, dimension, value, metric string
		period                                  int64
	}
	stored := make(map[cell]metric.Sums, len(deltas))
	var c cell
	var buf []byte
	if _, err := pgx.ForEachRow(rows, []any{&c.flag, &c.variant, &c.dimension, &c.value, &c.metric, &c.period, &buf}, func() error {
		var s metric.Sums
		if err := s.UnmarshalBinary(buf); err != nil {
			return fmt.Errorf("aggregate %s/%s/%s: %w", c.flag, c.variant, c.metric, err)
		}
		stored[c] = s
		return nil
	}); err != nil {
		return fmt.Errorf("postgres: read aggregates of %s: %w", env, err)
	}
	for i := range deltas {
		d := &deltas[i]
		s := stored[cell{d.Flag, d.Variant, d.Dimension, d.Value, d.Metric, d.Period}]
		s.Add(deltas[i].Sums)
		deltas[i].Sums = s
	}
	return putAggregates(t.ctx, t.tx, env, deltas)
}

func (t *eventTx) Aggregates(env string) ([]metric.Aggregate, error) {
	return aggregates(t.ctx, t.tx, env, "", sqlstore.EveryDimension, "")
}

func (t *eventTx) PutAggregates(env string, aggs []metric.Aggregate) error {
	return putAggregates(t.ctx, t.tx, env, slices.SortedFunc(slices.Values(aggs), cellOrder))
}

func (t *eventTx) ReplaceAggregates(env string, aggs []metric.Aggregate) error {
	return replaceAggregates(t.ctx, t.tx, env, aggs)
}
