package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync/atomic"
	"time"
)

// Store is what the Pipeline needs from storage.
type Store interface {
	// Metrics returns the metric definitions of an environment.
	Metrics(ctx context.Context, env string) ([]Metric, error)
	// ScanLog calls fn with every stored log record of env that may hold an
	// event with time ≥ since, in the order they were stored.
	ScanLog(ctx context.Context, env string, since int64, fn func(data []byte) error) error
	// IngestTx runs fn in one write transaction: what fn did is durable when
	// IngestTx returns nil, and none of it is kept otherwise.
	IngestTx(ctx context.Context, fn func(Tx) error) error
}

// Tx is the write transaction of Store.IngestTx.
type Tx interface {
	// Claim records the identities of events that carry an ID and reports
	// for each whether it is new: false for one stored before, and for
	// every repeat of a key within keys after its first.
	Claim(env string, keys []DedupKey) ([]bool, error)
	// ScanLog is Store.ScanLog inside the transaction.
	ScanLog(env string, since int64, fn func(data []byte) error) error
	// Append stores a log record.
	Append(env string, rec LogRecord) error
	// PutAggregates stores the given cells.
	PutAggregates(env string, aggs []Aggregate) error
	// ReplaceAggregates replaces every cell of env.
	ReplaceAggregates(env string, aggs []Aggregate) error
}

// Pipeline is the single writer of events. Requests (Ingest) and exposures
// recorded by the server (RecordExposure) are queued to one goroutine, which
// folds what is waiting, up to MaxGroupEvents, into one transaction: claim
// the ids, update the per-user state and the aggregates, append the events.
// Ingest returns only after that transaction committed.
//
// The per-user state of an environment lives in memory, loaded at first use
// by recomputing it from the stored events; the aggregates are stored with
// every transaction, so readers need neither the state nor the events.
// When a transaction fails, the state of its environments is dropped and
// recomputed from the store at next use.
//
// Construct with NewPipeline, set fields, then Open; Close drains and stops.
type Pipeline struct {
	Store  Store
	Now    func() time.Time
	Logger *slog.Logger
	// MaxGroupEvents bounds the events of one transaction.
	MaxGroupEvents int
	// ExposureQueue is the capacity of the queue of exposures recorded by the
	// server; beyond it they are dropped and counted.
	ExposureQueue int

	reqs      chan *request
	exposures chan queuedExposure
	cancel    context.CancelFunc
	done      chan struct{}
	engines   map[string]*engine // writer only

	counters Counters
}

// Counters are cumulative figures for /metrics.
type Counters struct {
	Stored, Duplicates atomic.Uint64
	// ExposuresRecorded counts exposures recorded by the server and stored;
	// ExposuresRedundant those that changed nothing (same user, flag and
	// variant seen before) and were not stored; ExposuresDropped those lost
	// because the queue was full.
	ExposuresRecorded, ExposuresRedundant, ExposuresDropped atomic.Uint64
	Transactions                                            atomic.Uint64
}

// NewPipeline returns a pipeline writing to store.
func NewPipeline(store Store, logger *slog.Logger) *Pipeline {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{Store: store, Now: time.Now, Logger: logger, MaxGroupEvents: 20_000, ExposureQueue: 1 << 16}
}

type queuedExposure struct {
	env string
	ev  Event
}

type request struct {
	ctx    context.Context
	env    string
	events []Event
	fresh  []bool // out: per event, true when stored, false when a duplicate
	// rebuild asks for a recomputation of env instead of events.
	rebuild bool
	result  RebuildResult
	done    chan error
}

// Open starts the writer.
func (p *Pipeline) Open() error {
	if p.Store == nil {
		return errors.New("ingest: Pipeline.Store is required")
	}
	p.reqs = make(chan *request, 256)
	p.exposures = make(chan queuedExposure, p.ExposureQueue)
	p.engines = map[string]*engine{}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.done = make(chan struct{})
	go p.run(ctx)
	return nil
}

// Close stops the writer after the work already queued, exposures included.
func (p *Pipeline) Close() error {
	if p.cancel == nil {
		return nil
	}
	p.cancel()
	<-p.done
	return nil
}

// Counters returns the pipeline's counters.
func (p *Pipeline) Counters() *Counters { return &p.counters }

// ErrClosed is returned for work submitted after Close.
var ErrClosed = errors.New("ingest: pipeline closed")

// Ingest stores events of env (deduplicating those with an ID), updates the
// aggregates, and returns once both are durable. fresh[i] is true when
// events[i] was stored, false when it was a duplicate.
func (p *Pipeline) Ingest(ctx context.Context, env string, events []Event) (fresh []bool, err error) {
	if len(events) == 0 {
		return nil, nil
	}
	r := &request{ctx: ctx, env: env, events: events, done: make(chan error, 1)}
	if err := p.submit(ctx, r); err != nil {
		return nil, err
	}
	return r.fresh, nil
}

// RebuildResult says what a recomputation found.
type RebuildResult struct {
	// Events is the number of stored events read.
	Events int64 `json:"events"`
	// Changed is true when the stored aggregates differed from the
	// recomputation (which replaced them). It should always be false.
	Changed bool `json:"changed"`
	// Aggregates is the number of cells written.
	Aggregates int `json:"aggregates"`
}

// Rebuild recomputes env's per-user state and aggregates from its stored
// events and replaces the stored aggregates. Call it after metric
// definitions change.
func (p *Pipeline) Rebuild(ctx context.Context, env string) (RebuildResult, error) {
	r := &request{ctx: ctx, env: env, rebuild: true, done: make(chan error, 1)}
	err := p.submit(ctx, r)
	return r.result, err
}

func (p *Pipeline) submit(ctx context.Context, r *request) error {
	select {
	case p.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return ErrClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-p.done:
		return ErrClosed
	}
}

// RecordExposure queues an exposure observed by the server (an OFREP
// evaluation). It never blocks: when the queue is full the exposure is
// dropped and counted. It reports whether it was queued.
func (p *Pipeline) RecordExposure(env, flag, variant, targetingKey string, at time.Time) bool {
	if targetingKey == "" || variant == "" || flag == "" || p.exposures == nil {
		return false
	}
	ev := Event{Type: Exposure, Flag: flag, Variant: variant, TargetingKey: targetingKey, Time: at.UnixMilli(), TimeSet: true}
	select {
	case p.exposures <- queuedExposure{env, ev}:
		return true
	default:
		p.counters.ExposuresDropped.Add(1)
		return false
	}
}

func (p *Pipeline) run(ctx context.Context) {
	defer close(p.done)
	for {
		var group []*request
		var exps []queuedExposure
		select {
		case r := <-p.reqs:
			group = append(group, r)
		case ev := <-p.exposures:
			exps = append(exps, ev)
		case <-ctx.Done():
			p.drain()
			return
		}
		if len(group) == 1 && group[0].rebuild {
			p.rebuild(group[0])
			continue
		}
		n := len(exps)
		if len(group) > 0 {
			n = len(group[0].events)
		}
	gather:
		for n < p.MaxGroupEvents {
			select {
			case r := <-p.reqs:
				if r.rebuild {
					p.write(group, exps)
					group, exps = nil, nil
					p.rebuild(r)
					continue
				}
				group = append(group, r)
				n += len(r.events)
			case ev := <-p.exposures:
				exps = append(exps, ev)
				n++
			default:
				break gather
			}
		}
		p.write(group, exps)
	}
}

// drain writes the exposures still queued at Close and fails waiting
// requests that were never picked up.
func (p *Pipeline) drain() {
	var exps []queuedExposure
	for {
		select {
		case ev := <-p.exposures:
			exps = append(exps, ev)
			continue
		case r := <-p.reqs:
			r.done <- ErrClosed
			continue
		default:
		}
		break
	}
	if len(exps) > 0 {
		p.write(nil, exps)
	}
}

// engine returns env's state, recomputing it from the store at first use.
func (p *Pipeline) engine(ctx context.Context, env string) (*engine, error) {
	if e := p.engines[env]; e != nil {
		return e, nil
	}
	e, _, err := p.recompute(ctx, env)
	if err != nil {
		return nil, err
	}
	p.engines[env] = e
	return e, nil
}

// recompute builds env's state from its stored events: all exposures
// first, then all tracking events, so no history scan is ever needed.
func (p *Pipeline) recompute(ctx context.Context, env string) (*engine, int64, error) {
	metrics, err := p.Store.Metrics(ctx, env)
	if err != nil {
		return nil, 0, fmt.Errorf("ingest: metrics of %s: %w", env, err)
	}
	e := newEngine(metrics)
	n, err := recomputeInto(e, func(fn func(*Event) error) error {
		return p.Store.ScanLog(ctx, env, math.MinInt64, func(data []byte) error { return DecodeLog(data, fn) })
	})
	if err != nil {
		return nil, 0, fmt.Errorf("ingest: recompute %s: %w", env, err)
	}
	clear(e.dirty)
	return e, n, nil
}

// Recompute computes the aggregates of metrics from scratch from the events
// that scan yields (scan is called twice), without any state from before.
// It returns every cell, sorted, and the number of events read.
func Recompute(metrics []Metric, scan func(fn func(*Event) error) error) ([]Aggregate, int64, error) {
	e := newEngine(metrics)
	n, err := recomputeInto(e, scan)
	if err != nil {
		return nil, 0, err
	}
	return e.all(""), n, nil
}

// recomputeInto feeds every event that scan yields into e in two passes
// (exposures, then tracking events) and returns the number of events read.
func recomputeInto(e *engine, scan func(fn func(*Event) error) error) (int64, error) {
	var n int64
	var chunk []Event
	flush := func() {
		if len(chunk) > 0 {
			e.apply(chunk, nil)
			chunk = chunk[:0]
		}
	}
	for _, typ := range []EventType{Exposure, Tracking} {
		err := scan(func(ev *Event) error {
			if typ == Exposure {
				n++
			}
			if ev.Type == typ {
				c := *ev
				c.Attributes = nil
				chunk = append(chunk, c)
				if len(chunk) == 4096 {
					flush()
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		flush()
	}
	return n, nil
}

func (p *Pipeline) rebuild(r *request) {
	e, n, err := p.recompute(r.ctx, r.env)
	if err != nil {
		r.done <- err
		return
	}
	all := e.all("")
	err = p.Store.IngestTx(r.ctx, func(tx Tx) error {
		return tx.ReplaceAggregates(r.env, all)
	})
	if err != nil {
		r.done <- err
		return
	}
	old := p.engines[r.env]
	r.result = RebuildResult{Events: n, Aggregates: len(all)}
	if old != nil {
		r.result.Changed = !sameAggregates(old.all(""), all)
	}
	p.engines[r.env] = e
	r.done <- nil
}

func sameAggregates(a, b []Aggregate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// write stores one group in one transaction and answers its requests.
func (p *Pipeline) write(group []*request, exps []queuedExposure) {
	if len(group) == 0 && len(exps) == 0 {
		return
	}
	ctx := context.Background()
	// Requests whose caller gave up are skipped: nothing of them is stored.
	live := group[:0]
	for _, r := range group {
		if r.ctx.Err() != nil {
			r.done <- r.ctx.Err()
			continue
		}
		live = append(live, r)
	}
	group = live
	byEnv := map[string][]*request{}
	expByEnv := map[string][]Event{}
	var envs []string
	for _, r := range group {
		if _, ok := byEnv[r.env]; !ok {
			envs = append(envs, r.env)
		}
		byEnv[r.env] = append(byEnv[r.env], r)
	}
	for _, q := range exps {
		env, ev := q.env, q.ev
		if _, ok := byEnv[env]; !ok {
			if _, ok := expByEnv[env]; !ok {
				envs = append(envs, env)
			}
		}
		expByEnv[env] = append(expByEnv[env], ev)
	}
	sort.Strings(envs)
	failEnv := func(env string, err error) {
		for _, r := range byEnv[env] {
			r.done <- err
		}
		delete(byEnv, env)
		delete(expByEnv, env)
	}
	engines := map[string]*engine{}
	for _, env := range envs {
		e, err := p.engine(ctx, env)
		if err != nil {
			p.Logger.Error("events: cannot load state", "environment", env, "err", err)
			failEnv(env, err)
			continue
		}
		engines[env] = e
	}
	var stored, dups, recorded, redundant uint64
	err := p.Store.IngestTx(ctx, func(tx Tx) error {
		stored, dups, recorded, redundant = 0, 0, 0, 0
		for _, env := range envs {
			e := engines[env]
			if e == nil {
				continue
			}
			var fresh []Event
			for _, r := range byEnv[env] {
				r.fresh = make([]bool, len(r.events))
				var keys []DedupKey
				var at []int
				for i := range r.events {
					if r.events[i].ID != "" {
						keys = append(keys, r.events[i].Key())
						at = append(at, i)
					} else {
						r.fresh[i] = true
					}
				}
				if len(keys) > 0 {
					isNew, err := tx.Claim(env, keys)
					if err != nil {
						return err
					}
					for j, i := range at {
						r.fresh[i] = isNew[j]
					}
				}
				for i, ok := range r.fresh {
					if ok {
						fresh = append(fresh, r.events[i])
						stored++
					} else {
						dups++
					}
				}
			}
			for _, ev := range expByEnv[env] {
				if e.redundant(&ev) {
					redundant++
					continue
				}
				fresh = append(fresh, ev)
				recorded++
			}
			if len(fresh) == 0 {
				continue
			}
			err := e.apply(fresh, func(since int64, fn func(*Event)) error {
				return tx.ScanLog(env, since, func(data []byte) error {
					return DecodeLog(data, func(ev *Event) error { fn(ev); return nil })
				})
			})
			if err != nil {
				return err
			}
			if err := tx.Append(env, EncodeLog(fresh)); err != nil {
				return err
			}
			if err := tx.PutAggregates(env, e.takeDirty()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		p.Logger.Error("events: transaction failed; state will be recomputed", "err", err)
		for env := range engines {
			delete(p.engines, env) // partly applied: recompute at next use
		}
		for _, rs := range byEnv {
			for _, r := range rs {
				r.done <- err
			}
		}
		p.counters.ExposuresDropped.Add(uint64(len(exps)))
		return
	}
	p.counters.Transactions.Add(1)
	p.counters.Stored.Add(stored)
	p.counters.Duplicates.Add(dups)
	p.counters.ExposuresRecorded.Add(recorded)
	p.counters.ExposuresRedundant.Add(redundant)
	for _, rs := range byEnv {
		for _, r := range rs {
			r.done <- nil
		}
	}
}
