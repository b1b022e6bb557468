package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/valueloop/valueloop/ingest"
)

// How events flow with several nodes
//
// Every node runs an ingest.Pipeline over IngestStore: it deduplicates
// (event_ids, consistent across nodes), appends the events to the log and
// acknowledges them once committed. Its per-user state sees only the events
// this node received, so it does not write aggregates. One node, the leader
// of the "aggregates" singleton work, runs the Aggregator: it reads the log
// in seq order behind a cursor (event_folds.seq) and folds it, through an
// ingest.Pipeline of its own, into the per-user state and the aggregates,
// moving the cursor in the same transaction. Per environment, appends are
// serialised by the event_heads row lock, so seq order is commit order and
// the cursor never skips a record that commits late. The cursor moves by
// compare-and-set: a second folder (a leader that lost its lock and does not
// know yet) is detected and recomputes instead of counting twice.

// IngestStore returns the ingest.Store through which this node's pipeline
// stores events. Give each pipeline its own.
func (db *DB) IngestStore() ingest.Store {
	return &receiver{db: db, snap: map[string]int64{}, snapMetrics: map[string]int64{}}
}

// receiver is the ingest.Store of a node's own pipeline.
type receiver struct {
	db *DB

	mu          sync.Mutex
	snap        map[string]int64 // env → log head read with the metrics (recomputation bound)
	snapMetrics map[string]int64 // env → metrics version read with them
}

// Metrics reads the metric definitions together with the log head and the
// metrics version, in one snapshot: the recomputation that follows (two
// ScanLog passes) reads the log up to that head, so both passes see the
// same records, and a rebuild knows exactly what it folded.
func (r *receiver) Metrics(ctx context.Context, env string) ([]ingest.Metric, error) {
	var ms []ingest.Metric
	var head, mv int64
	err := pgx.BeginTxFunc(ctx, r.db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if ms, err = metrics(ctx, tx, env); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT COALESCE((SELECT seq FROM event_heads WHERE environment = $1), 0),
			COALESCE((SELECT metrics_version FROM event_folds WHERE environment = $1), 0)`, env).Scan(&head, &mv); err != nil {
			return fmt.Errorf("postgres: read log head of %s: %w", env, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.snap[env], r.snapMetrics[env] = head, mv
	r.mu.Unlock()
	return ms, nil
}

func (r *receiver) ScanLog(ctx context.Context, env string, since int64, fn func(data []byte) error) error {
	upTo := int64(math.MaxInt64)
	r.mu.Lock()
	if h, ok := r.snap[env]; ok && since == math.MinInt64 {
		upTo = h
	}
	r.mu.Unlock()
	return scanLog(ctx, r.db.pool, env, since, upTo, fn)
}

func (r *receiver) IngestTx(ctx context.Context, fn func(ingest.Tx) error) error {
	err := pgx.BeginFunc(ctx, r.db.pool, func(tx pgx.Tx) error {
		return fn(&receiverTx{r: r, ctx: ctx, tx: tx, locked: map[string]bool{}})
	})
	return domainError(err)
}

type receiverTx struct {
	r      *receiver
	ctx    context.Context
	tx     pgx.Tx
	locked map[string]bool
}

// lock takes env's log head row lock, first thing for each environment (the
// pipeline visits environments in sorted order, so two nodes never wait for
// each other in opposite orders).
func (t *receiverTx) lock(env string) error {
	if t.locked[env] {
		return nil
	}
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO event_heads (environment) VALUES ($1)
		ON CONFLICT (environment) DO UPDATE SET seq = event_heads.seq`, env); err != nil {
		return fmt.Errorf("postgres: lock event log of %s: %w", env, err)
	}
	t.locked[env] = true
	return nil
}

func (t *receiverTx) Claim(env string, keys []ingest.DedupKey) ([]bool, error) {
	if err := t.lock(env); err != nil {
		return nil, err
	}
	times := make([]int64, len(keys))
	hashes := make([]int64, len(keys))
	for i, k := range keys {
		times[i], hashes[i] = k.Time, k.Hash
	}
	rows, err := t.tx.Query(t.ctx, `INSERT INTO event_ids (environment, time, hash)
		SELECT $1, t, h FROM unnest($2::bigint[], $3::bigint[]) AS k(t, h)
		ON CONFLICT DO NOTHING RETURNING time, hash`, env, times, hashes)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim event ids: %w", err)
	}
	inserted := make(map[ingest.DedupKey]int, len(keys))
	var k ingest.DedupKey
	_, err = pgx.ForEachRow(rows, []any{&k.Time, &k.Hash}, func() error {
		inserted[k]++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim event ids: %w", err)
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

// ScanLog feeds this node's own per-user state, which writes no
// aggregates; it reads what is committed.
func (t *receiverTx) ScanLog(env string, since int64, fn func(data []byte) error) error {
	return scanLog(t.ctx, t.tx, env, since, math.MaxInt64, fn)
}

func (t *receiverTx) Append(env string, rec ingest.LogRecord) error {
	if err := t.lock(env); err != nil {
		return err
	}
	var seq int64
	if err := t.tx.QueryRow(t.ctx, `INSERT INTO event_log (environment, min_time, max_time, count, data) VALUES ($1, $2, $3, $4, $5) RETURNING seq`,
		env, rec.MinTime, rec.MaxTime, rec.Count, rec.Data).Scan(&seq); err != nil {
		return fmt.Errorf("postgres: append events: %w", err)
	}
	if _, err := t.tx.Exec(t.ctx, `UPDATE event_heads SET seq = $2 WHERE environment = $1`, env, seq); err != nil {
		return fmt.Errorf("postgres: move log head of %s: %w", env, err)
	}
	return t.r.db.notify(t.ctx, t.tx, KindEvents, env)
}

// PutAggregates writes nothing: the Aggregator folds the log into the
// aggregates, from every node's events.
func (t *receiverTx) PutAggregates(env string, aggs []ingest.Aggregate) error { return nil }

// ReplaceAggregates stores a rebuild made by this node: the cells computed
// from the log up to the head read with the metrics, and the fold cursor
// moved to that head, so the Aggregator continues from exactly there.
func (t *receiverTx) ReplaceAggregates(env string, aggs []ingest.Aggregate) error {
	t.r.mu.Lock()
	head, ok := t.r.snap[env]
	mv := t.r.snapMetrics[env]
	t.r.mu.Unlock()
	if !ok {
		return fmt.Errorf("postgres: rebuild of %s without a recomputation", env)
	}
	if _, err := lockFold(t.ctx, t.tx, env); err != nil {
		return err
	}
	if _, err := t.tx.Exec(t.ctx, `UPDATE event_folds SET seq = $2, built_version = $3 WHERE environment = $1`, env, head, mv); err != nil {
		return fmt.Errorf("postgres: move fold cursor of %s: %w", env, err)
	}
	if err := replaceAggregates(t.ctx, t.tx, env, aggs); err != nil {
		return err
	}
	return t.r.db.notify(t.ctx, t.tx, KindEvents, env)
}

// errStale says the folder's state is not the one the fold cursor
// describes: another node folded or rebuilt meanwhile.
var errStale = errors.New("postgres: aggregation state is behind the stored one; recomputing")
