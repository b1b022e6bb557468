package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/valueloop/valueloop/ingest"
)

// Aggregator folds the event log, from every node, into the per-user state
// and the exact aggregates. Run it as singleton work (Leader.Run with
// Aggregator.Run): one node folds at a time; a second one by mistake is
// detected by the cursor's compare-and-set and costs a recomputation, never
// a double count.
//
// Construct with NewAggregator, Open, Close.
type Aggregator struct {
	// BatchEvents bounds the events of one fold transaction (default 50,000).
	BatchEvents int
	// Interval between checks for unfolded events when no notification
	// arrives (default 1s).
	Interval time.Duration
	Logger   *slog.Logger

	db    *DB
	store *folder
	pipe  *ingest.Pipeline
	kick  chan struct{}
	mu    sync.Mutex // one fold at a time
}

// NewAggregator returns an aggregator over db.
func NewAggregator(db *DB) *Aggregator {
	return &Aggregator{db: db, Logger: db.Logger, BatchEvents: 50_000, Interval: time.Second}
}

// Open prepares the aggregator; folding happens in Run and Fold.
func (a *Aggregator) Open() error {
	if a.Logger == nil {
		a.Logger = slog.New(slog.DiscardHandler)
	}
	if a.BatchEvents <= 0 {
		a.BatchEvents = 50_000
	}
	if a.Interval <= 0 {
		a.Interval = time.Second
	}
	a.kick = make(chan struct{}, 1)
	a.store = &folder{db: a.db, engine: map[string]engineState{}, plan: map[string]foldPlan{}}
	// Failures of the folder's transactions are expected (a stale state is
	// one) and handled here, so its pipeline logs nothing.
	a.pipe = ingest.NewPipeline(a.store, nil)
	return a.pipe.Open()
}

// Close stops the aggregator's pipeline.
func (a *Aggregator) Close() error {
	if a.pipe == nil {
		return nil
	}
	return a.pipe.Close()
}

// Notify asks for a fold soon (events were stored, metrics changed). It
// never blocks.
func (a *Aggregator) Notify() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// Run folds whatever is behind, then again on every Notify and every
// Interval, until ctx ends. Give it to a Leader.
func (a *Aggregator) Run(ctx context.Context) error {
	t := time.NewTicker(a.Interval)
	defer t.Stop()
	failing := false
	for {
		err := a.FoldAll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil && !failing:
			a.Logger.Warn("aggregates: fold failed; will retry", "err", err)
		case err == nil && failing:
			a.Logger.Info("aggregates: folding again")
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return nil
		case <-a.kick:
		case <-t.C:
		}
	}
}

// FoldAll folds every environment with unfolded events or changed metric
// definitions, and returns once the aggregates reflect every event committed
// before it was called.
func (a *Aggregator) FoldAll(ctx context.Context) error {
	rows, err := a.db.pool.Query(ctx, `SELECT h.environment FROM event_heads h LEFT JOIN event_folds f USING (environment)
		WHERE h.seq > COALESCE(f.seq, 0)
		UNION SELECT environment FROM event_folds WHERE built_version <> metrics_version
		ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("postgres: find unfolded events: %w", err)
	}
	envs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("postgres: find unfolded events: %w", err)
	}
	var errs []error
	for _, env := range envs {
		if err := a.Fold(ctx, env); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Fold folds env's unfolded events; after a change of its metric
// definitions it rebuilds its aggregates first.
func (a *Aggregator) Fold(ctx context.Context, env string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	stale := 0
	for ctx.Err() == nil {
		var s foldState
		err := a.db.pool.QueryRow(ctx, `SELECT seq, metrics_version, built_version FROM event_folds WHERE environment = $1`, env).
			Scan(&s.seq, &s.metrics, &s.built)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: read fold state of %s: %w", env, err)
		}
		if s.built != s.metrics {
			res, err := a.pipe.Rebuild(ctx, env)
			if err != nil {
				return fmt.Errorf("postgres: rebuild aggregates of %s: %w", env, err)
			}
			a.Logger.Info("aggregates: rebuilt after a change of metric definitions", "environment", env, "events", res.Events, "cells", res.Aggregates)
			continue
		}
		events, last, err := a.read(ctx, env, s.seq)
		if err != nil {
			return err
		}
		if last == s.seq {
			return nil
		}
		a.store.setPlan(env, foldPlan{from: s.seq, to: last})
		_, err = a.pipe.Ingest(ctx, env, events)
		switch {
		case errors.Is(err, errStale):
			// The pipeline dropped its state; the next round recomputes
			// it from the stored cursor. Another folder is at work (a
			// leader that does not know yet that it lost): let it be.
			if stale++; stale > 10 {
				return fmt.Errorf("postgres: fold %s: %w (ten times in a row)", env, err)
			}
			if !sleep(ctx, time.Duration(stale)*time.Duration(1+rand.IntN(10))*time.Millisecond) {
				return ctx.Err()
			}
		case err != nil:
			return fmt.Errorf("postgres: fold %s: %w", env, err)
		default:
			stale = 0
		}
	}
	return ctx.Err()
}

// read returns the events of the records after seq `after`, up to
// BatchEvents (at least one record), and the last seq read.
func (a *Aggregator) read(ctx context.Context, env string, after int64) ([]ingest.Event, int64, error) {
	rows, err := a.db.pool.Query(ctx, `SELECT seq, count, data FROM event_log WHERE environment = $1 AND seq > $2 ORDER BY seq LIMIT 1024`, env, after)
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: read events of %s: %w", env, err)
	}
	defer rows.Close()
	var events []ingest.Event
	last := after
	for rows.Next() {
		var seq int64
		var count int
		var data []byte
		if err := rows.Scan(&seq, &count, &data); err != nil {
			return nil, 0, err
		}
		if len(events) > 0 && len(events)+count > a.BatchEvents {
			break
		}
		err := ingest.DecodeLog(data, func(ev *ingest.Event) error {
			c := *ev
			c.Attributes = nil // aggregation reads none
			events = append(events, c)
			return nil
		})
		if err != nil {
			return nil, 0, fmt.Errorf("postgres: decode events of %s at %d: %w", env, seq, err)
		}
		last = seq
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("postgres: read events of %s: %w", env, err)
	}
	return events, last, nil
}

// folder is the ingest.Store of the Aggregator's pipeline: its "new" events
// are log records already stored, its state is checked against the cursor.
type folder struct {
	db *DB

	mu     sync.Mutex
	engine map[string]engineState // what the pipeline's state of env reflects
	plan   map[string]foldPlan    // the records the next Ingest of env carries
}

type engineState struct {
	seq, metrics int64
	valid        bool
}

type foldPlan struct{ from, to int64 }

func (f *folder) setPlan(env string, p foldPlan) {
	f.mu.Lock()
	f.plan[env] = p
	f.mu.Unlock()
}

// Metrics is called by the pipeline only to recompute its state of env: it
// reads the definitions and the cursor in one snapshot, and from here on the
// state is the one of that cursor.
func (f *folder) Metrics(ctx context.Context, env string) ([]ingest.Metric, error) {
	var ms []ingest.Metric
	var s engineState
	err := pgx.BeginTxFunc(ctx, f.db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if ms, err = metrics(ctx, tx, env); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT seq, metrics_version FROM event_folds WHERE environment = $1`, env).Scan(&s.seq, &s.metrics)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: read fold state of %s: %w", env, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.valid = true
	f.mu.Lock()
	f.engine[env] = s
	f.mu.Unlock()
	return ms, nil
}

// ScanLog reads the records the state of env reflects (a recomputation).
func (f *folder) ScanLog(ctx context.Context, env string, since int64, fn func(data []byte) error) error {
	f.mu.Lock()
	s := f.engine[env]
	f.mu.Unlock()
	return scanLog(ctx, f.db.pool, env, since, s.seq, fn)
}

func (f *folder) IngestTx(ctx context.Context, fn func(ingest.Tx) error) error {
	t := &folderTx{f: f, ctx: ctx, checked: map[string]bool{}, moved: map[string]engineState{}}
	err := pgx.BeginFunc(ctx, f.db.pool, func(tx pgx.Tx) error {
		t.tx = tx
		return fn(t)
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		// The pipeline keeps or drops its state depending on the kind of
		// transaction: either way, trust it no more.
		for env := range t.checked {
			f.engine[env] = engineState{}
		}
		return domainError(err)
	}
	for env, s := range t.moved {
		f.engine[env] = s
	}
	return nil
}

type folderTx struct {
	f       *folder
	ctx     context.Context
	tx      pgx.Tx
	checked map[string]bool
	moved   map[string]engineState // the state of each env once committed
	stored  map[string]foldState
}

// check locks env's cursor and makes sure that the pipeline's state is the
// one it describes and that the events carried follow it.
func (t *folderTx) check(env string) error {
	if t.checked[env] {
		return nil
	}
	t.checked[env] = true
	s, err := lockFold(t.ctx, t.tx, env)
	if err != nil {
		return err
	}
	t.f.mu.Lock()
	e, p := t.f.engine[env], t.f.plan[env]
	t.f.mu.Unlock()
	if !e.valid || e.seq != s.seq || e.metrics != s.metrics || s.built != s.metrics || p.from != s.seq {
		return errStale
	}
	if t.stored == nil {
		t.stored = map[string]foldState{}
	}
	t.stored[env] = s
	return nil
}

// Claim: the events were deduplicated when they were stored.
func (t *folderTx) Claim(env string, keys []ingest.DedupKey) ([]bool, error) {
	if err := t.check(env); err != nil {
		return nil, err
	}
	out := make([]bool, len(keys))
	for i := range out {
		out[i] = true
	}
	return out, nil
}

// ScanLog reads the history the state reflects (records up to the cursor).
func (t *folderTx) ScanLog(env string, since int64, fn func(data []byte) error) error {
	if err := t.check(env); err != nil {
		return err
	}
	return scanLog(t.ctx, t.tx, env, since, t.stored[env].seq, fn)
}

// Append stores nothing (the events are in the log): it moves the cursor
// past the records folded.
func (t *folderTx) Append(env string, rec ingest.LogRecord) error {
	if err := t.check(env); err != nil {
		return err
	}
	t.f.mu.Lock()
	p := t.f.plan[env]
	t.f.mu.Unlock()
	if _, err := t.tx.Exec(t.ctx, `UPDATE event_folds SET seq = $2 WHERE environment = $1`, env, p.to); err != nil {
		return fmt.Errorf("postgres: move fold cursor of %s: %w", env, err)
	}
	t.moved[env] = engineState{seq: p.to, metrics: t.stored[env].metrics, valid: true}
	return nil
}

func (t *folderTx) PutAggregates(env string, aggs []ingest.Aggregate) error {
	if err := t.check(env); err != nil {
		return err
	}
	return putAggregates(t.ctx, t.tx, env, aggs)
}

// ReplaceAggregates stores a rebuild: the cells computed from the log up to
// the cursor read with the metric definitions, whatever the cursor is now
// (the aggregates and the cursor move together, so they stay consistent).
func (t *folderTx) ReplaceAggregates(env string, aggs []ingest.Aggregate) error {
	t.checked[env] = true
	t.f.mu.Lock()
	e := t.f.engine[env]
	t.f.mu.Unlock()
	if !e.valid {
		return errStale
	}
	if _, err := lockFold(t.ctx, t.tx, env); err != nil {
		return err
	}
	if _, err := t.tx.Exec(t.ctx, `UPDATE event_folds SET seq = $2, built_version = $3 WHERE environment = $1`, env, e.seq, e.metrics); err != nil {
		return fmt.Errorf("postgres: move fold cursor of %s: %w", env, err)
	}
	if err := replaceAggregates(t.ctx, t.tx, env, aggs); err != nil {
		return err
	}
	t.moved[env] = e
	return nil
}
