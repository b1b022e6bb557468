package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
)

// Store is what the Pipeline needs from storage.
type Store interface {
	// Metrics returns the metric definitions of an environment.
	Metrics(ctx context.Context, env string) ([]metric.Metric, error)
	// ScanLog calls fn with every stored log record of env that may hold an
	// event with time ≥ since, in the order they were stored.
	ScanLog(ctx context.Context, env string, since int64, fn func(data []byte) error) error
	// IngestTx runs fn in one write transaction: what fn did is durable when
	// IngestTx returns nil, and none of it is kept otherwise.
	IngestTx(ctx context.Context, fn func(Tx) error) error
}

// SplitStore is a Store that knows when the flags' splits changed. With
// one, the Pipeline keeps the aggregates per split period of each user's
// first exposure (metric.Aggregate.Period), so that the results of a flag
// whose split moved (a rollout) can be analysed period by period; without
// one every cell is of period 0.
//
// A recomputation from the events must give each exposure the period the
// pipeline gave it when it stored it, so the split changes a transaction
// uses must be all of those timed at or before its exposures. The store
// makes that so by serialising the two (its transactions are SplitTx): a
// change of a split takes its time after it holds the version of the
// flags of its environment, rounded up to the millisecond (exposures are
// timed in milliseconds), and each transaction of the pipeline holds that
// version from SplitsVersion to its end. A change that commits after such
// a transaction is timed after it, and after every exposure it stored
// (none is stored later than the pipeline's clock: group.claim);
// one that committed before is in the split changes of that version, which
// the pipeline reads again when the version it holds is not the one it
// read them at.
type SplitStore interface {
	// SplitChanges returns, per flag of env, the times (Unix milliseconds,
	// sorted) at which its split changed after the first, and the version
	// of env's flags they are those of.
	SplitChanges(ctx context.Context, env string) (map[string][]int64, int64, error)
}

// SplitTx is what the transactions of a SplitStore (Tx and StateTx) add.
type SplitTx interface {
	// SplitsVersion returns the version of env's flags (0 for an unknown
	// environment) and holds it until the transaction ends: no change of
	// env's flags commits meanwhile.
	SplitsVersion(env string) (int64, error)
}

// splits are the split changes of an environment as of a version of its
// flags.
type splits struct {
	changes map[string][]int64
	version int64
}

// readSplits returns env's split changes, none when the store knows none.
func (p *Pipeline) readSplits(ctx context.Context, env string) (splits, error) {
	ss, ok := p.Store.(SplitStore)
	if !ok {
		return splits{}, nil
	}
	ch, v, err := ss.SplitChanges(ctx, env)
	if err != nil {
		return splits{}, fmt.Errorf("ingest: split changes of %s: %w", env, err)
	}
	return splits{ch, v}, nil
}

// checkSplits holds, in tx, the version of env's flags, and fails with
// *errSplits when it is not the version of have: a split may have changed
// since have was read, timed before exposures the transaction stores.
func (p *Pipeline) checkSplits(tx any, env string, have splits) error {
	if _, ok := p.Store.(SplitStore); !ok {
		return nil
	}
	st, ok := tx.(SplitTx)
	if !ok {
		return fmt.Errorf("ingest: the transactions of a SplitStore must be SplitTx, %T is not", tx)
	}
	v, err := st.SplitsVersion(env)
	if err != nil {
		return fmt.Errorf("ingest: hold the flags' version of %s: %w", env, err)
	}
	if v != have.version {
		return &errSplits{env: env}
	}
	return nil
}

// errSplits says that the flags of env changed since their split changes
// were read: read them again and retry.
type errSplits struct{ env string }

func (e *errSplits) Error() string {
	return fmt.Sprintf("ingest: the flags of %s changed during every attempt to store events", e.env)
}

// maxSplitRetries bounds the attempts of a transaction that found the
// split changes it read out of date: each attempt follows a change of a
// flag, which takes a request of its own.
const maxSplitRetries = 4

// Tx is the write transaction of Store.IngestTx.
type Tx interface {
	// Claim records the identities of events that carry an ID and reports
	// for each whether it is new: false for one stored before, and for
	// every repeat of a key within keys after its first. The pipeline calls
	// it once per environment and transaction, with the keys sorted by time
	// and hash, so that writers that insert the same keys concurrently take
	// them in the same order.
	Claim(env string, keys []DedupKey) ([]bool, error)
	// ScanLog is Store.ScanLog inside the transaction.
	ScanLog(env string, since int64, fn func(data []byte) error) error
	// Append stores a log record.
	Append(env string, rec LogRecord) error
	// PutAggregates stores the given cells.
	PutAggregates(env string, aggs []metric.Aggregate) error
	// ReplaceAggregates replaces every cell of env.
	ReplaceAggregates(env string, aggs []metric.Aggregate) error
}

// Pipeline is the single writer of events of a node. Requests (Ingest) are
// queued to one goroutine, which folds what is waiting, up to
// MaxGroupEvents, into one transaction: claim the ids, update the per-user
// state and the aggregates, append the events. Ingest returns only after
// that transaction committed. Exposures recorded by the server
// (RecordExposure) wait in memory and are stored by the same goroutine in
// batches, every FlushInterval (see exposureBuffer for what that costs a
// request and what a crash may lose).
//
// Where the per-user state lives depends on the store. A StateStore keeps it:
// each transaction loads the users its events touch, stores them back and adds
// the changes of the sums to the stored ones, so the pipeline holds nothing
// between transactions, a restart reads no events, and pipelines of several
// nodes may write to one store. With a plain Store the state lives in memory,
// loaded at first use by recomputing it from the stored events, and the
// absolute sums of the cells changed are stored; when a transaction fails,
// the state of its environments is dropped and recomputed at next use.
// Either way readers of the aggregates need neither the state nor the events.
//
// Construct with NewPipeline, set fields, then Open; Close drains and stops.
type Pipeline struct {
	Store Store
	// Now is the server's clock: the event API judges times against it,
	// and no exposure is stored later than it (group.claim).
	Now    func() time.Time
	Logger *slog.Logger
	// MaxGroupEvents bounds the events of one transaction.
	MaxGroupEvents int
	// MaxGroupBytes bounds the encoded size of the requests gathered into
	// one transaction (a request larger alone is written alone). The log
	// record of a transaction holds all of its events, and the store
	// copies it outside the Go heap, where no budget counts it: SQLite
	// (modernc) once for the bound blob and once for the row it builds.
	// Uploads of 3,000 events with 300 attributes each (17.6 MB) were
	// gathered four to a transaction, a 70 MB record, and a server with
	// the default max-body-buffered (256 MiB) peaked at 495 MB of RSS, 190
	// of them outside the Go runtime (bench/upload-memory.sh).
	MaxGroupBytes int
	// ExposureQueue is the capacity of the buffer of exposures recorded by
	// the server; beyond it they are dropped and counted.
	ExposureQueue int
	// FlushInterval is the longest an exposure recorded by the server waits
	// in memory before the writer takes it: what a crash may lose is at most
	// this much of them, plus the batch being written. A quarter-full buffer
	// is taken at once.
	FlushInterval time.Duration
	// Dimensions (validated by metric.ValidateDimensions, the same for
	// every environment) are the attributes of exposures by which every
	// cell is kept once more per value. Changing them rebuilds the cells
	// from the event log, as a change of metric definitions does.
	Dimensions []metric.Dimension
	// MaxFlagsPerUser bounds the flags analysed per user and environment
	// (0: DefaultMaxFlagsPerUser, the same on every node): an exposure of a
	// user to another flag is stored but not analysed, and counted
	// (Counters.ExposuresUnanalysed). Each tracking event of a user is
	// added to every flag of theirs, and exposures are accepted for any
	// flag key: without a bound, anyone who may send events (with the
	// client token that web pages carry) could make one user's events cost
	// ever more of the single writer's time and memory. The flags kept are
	// the user's first in the log, so a rebuild keeps the same ones.
	// Changing it rebuilds the state, as a change of Dimensions does.
	MaxFlagsPerUser int

	reqs       chan *request
	carry      *request // writer only: taken by gather for the next group (MaxGroupBytes)
	exposures  *exposureBuffer
	expBuf     []recordedExposure // writer only: the exposures taken from the buffer, reused
	expEvents  []Event            // writer only: those of one transaction as events, reused (groupExposures)
	cancel     context.CancelFunc
	life       context.Context // the writer's, cancelled by Close: bounds recomputations, not transactions
	done       chan struct{}
	engines    map[string]*engine             // writer only: per environment, the state (plain Store) or the compiled metrics (StateStore)
	freshBuf   []Event                        // writer only: the fresh events of a group, reused
	rebuilding atomic.Pointer[rebuildTracker] // the recomputation under way, if any
	// RebuildTimeout bounds one recomputation, asked for by Rebuild or
	// started by a write that found the stored state stale (default
	// DefaultRebuildTimeout).
	RebuildTimeout time.Duration
	jobsMu         sync.Mutex
	jobs           map[string]*rebuildJob // per environment, the rebuild not yet started

	counters Counters
}

// newEngine compiles metrics with the pipeline's dimensions and bound.
func (p *Pipeline) newEngine(metrics []metric.Metric) *engine {
	return newEngine(metrics, p.Dimensions...).limitUnits(p.MaxFlagsPerUser)
}

// Counters are cumulative figures for /metrics.
type Counters struct {
	Stored, Duplicates atomic.Uint64
	// ExposuresRecorded counts exposures recorded by the server and stored;
	// ExposuresRedundant those that changed nothing (same user, flag and
	// variant seen before) and were not stored; ExposuresDropped those lost
	// because the queue was full.
	ExposuresRecorded, ExposuresRedundant, ExposuresDropped atomic.Uint64
	// ExposuresUnanalysed counts exposures stored but not analysed: their
	// user had MaxFlagsPerUser other flags already.
	ExposuresUnanalysed atomic.Uint64
	Transactions        atomic.Uint64
}

// NewPipeline returns a pipeline writing to store.
func NewPipeline(store Store, logger *slog.Logger) *Pipeline {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{Store: store, Now: time.Now, Logger: logger, MaxGroupEvents: DefaultMaxGroupEvents, MaxGroupBytes: DefaultMaxGroupBytes,
		ExposureQueue: DefaultExposureQueue, FlushInterval: DefaultFlushInterval}
}

// The defaults of NewPipeline. Together they bound what a crash may lose of
// the exposures recorded by the server: FlushInterval's worth, at most
// ExposureQueue, plus the batch being written (taken from the buffer, so
// at most ExposureQueue too), in transactions of ExposureChunk.
const (
	DefaultMaxGroupEvents = 20_000
	DefaultMaxGroupBytes  = 8 << 20
	DefaultExposureQueue  = 1 << 16
	DefaultFlushInterval  = 100 * time.Millisecond
)

type request struct {
	ctx    context.Context
	env    string
	events []Event
	size   int    // of events encoded (logSize): what the request adds to a transaction's log record
	fresh  []bool // out: per event, true when stored, false when a duplicate
	// rebuild asks for a recomputation of env instead of events.
	rebuild *rebuildJob
	done    chan error
}

// Open starts the writer.
func (p *Pipeline) Open() error {
	if p.Store == nil {
		return errors.New("ingest: Pipeline.Store is required")
	}
	p.reqs = make(chan *request, 256)
	p.exposures = newExposureBuffer(p.ExposureQueue)
	if p.FlushInterval <= 0 {
		p.FlushInterval = DefaultFlushInterval
	}
	p.engines = map[string]*engine{}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.life = cancel, ctx
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

// now is p.Now, or time.Now for a Pipeline built without NewPipeline.
func (p *Pipeline) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

// ErrClosed is returned for work submitted after Close.
var ErrClosed = errors.New("ingest: pipeline closed")

// Ingest stores events of env (deduplicating those with an ID), updates the
// aggregates, and returns once both are durable. fresh[i] is true when
// events[i] was stored, false when it was a duplicate. When Close cancels
// the recomputation of a state built with other definitions that the write
// waits for, the events are stored in the log only, and the aggregates
// count them at the next recomputation (writeLog).
func (p *Pipeline) Ingest(ctx context.Context, env string, events []Event) (fresh []bool, err error) {
	if len(events) == 0 {
		return nil, nil
	}
	// Decode validated what came over HTTP; a caller in Go may pass
	// anything, and an exposure without a variant would be counted as an
	// exclusion.
	for i := range events {
		field, reason := events[i].missing()
		if field == "" {
			field, reason = events[i].badText(MaxKeyBytes)
		}
		if field != "" {
			return nil, valueloop.Errorf(valueloop.EINVALID, "event %d: %s: %s", i, field, reason)
		}
	}
	r := &request{ctx: ctx, env: env, events: events, size: logSize(events), done: make(chan error, 1)}
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

func (p *Pipeline) submit(ctx context.Context, r *request) error {
	select {
	case p.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return ErrClosed
	}
	return p.await(r)
}

// await returns the writer's answer to r, or ErrClosed when the writer
// ended without answering. The writer answers before it ends (run closes
// done last), so an answer given is the answer even when done is closed
// too: a select between the two, both ready, picked either, and a write
// stored in the log at Close was reported failed now and then (a client
// would send it again).
func (p *Pipeline) await(r *request) error {
	select {
	case err := <-r.done:
		return err
	case <-p.done:
		select {
		case err := <-r.done:
			return err
		default:
			return ErrClosed
		}
	}
}

// RecordExposure buffers an exposure observed by the server (an OFREP
// evaluation) for the next batch. It never blocks, allocates nothing and
// calls nothing of the store: when the buffer is full the exposure is
// dropped and counted. It reports whether it was buffered: a targeting
// key, flag or variant that no store can keep (longer than MaxKeyBytes, or
// holding U+0000) is not. attrs, a JSON object or nil, are the exposure's
// attributes, where Dimensions are read; the pipeline keeps them (the
// caller must not change them). outside says that the evaluation did not
// draw the variant from the flag's split (Event.OutsideSplit).
func (p *Pipeline) RecordExposure(env, flag, variant, targetingKey string, at time.Time, attrs []byte, outside bool) bool {
	if targetingKey == "" || variant == "" || flag == "" || p.exposures == nil {
		return false
	}
	// A key no store can keep would fail its whole transaction of
	// exposures (and on PostgreSQL every later compaction): see badText.
	for _, v := range [...]string{targetingKey, flag, variant} {
		if textProblem(v, MaxKeyBytes) != "" {
			return false
		}
	}
	if !p.exposures.add(recordedExposure{env: env, flag: flag, variant: variant, key: targetingKey, at: at.UnixMilli(), attrs: attrs, outside: outside}) {
		p.counters.ExposuresDropped.Add(1)
		return false
	}
	return true
}

func (p *Pipeline) run(ctx context.Context) {
	defer close(p.done)
	tick := time.NewTicker(p.FlushInterval)
	defer tick.Stop()
	for {
		var group []*request
		select {
		case r := <-p.waiting():
			group, p.carry = append(group, r), nil
		case <-tick.C:
			p.flushExposures(true)
			continue
		case <-p.exposures.kick:
			p.flushExposures(true)
			continue
		case <-ctx.Done():
			p.drain()
			return
		}
		if group[0].rebuild != nil {
			p.runRebuild(ctx, group[0].rebuild)
			continue
		}
		group, rebuild := p.gather(group)
		p.write(group, nil)
		if rebuild != nil {
			p.runRebuild(ctx, rebuild)
		}
	}
}

// gather adds to group, which holds one request of events, the requests
// waiting, up to MaxGroupEvents events and MaxGroupBytes of them encoded:
// a request that would take the group past MaxGroupBytes is carried to
// the next one (p.carry), and one larger alone is written alone. It stops
// at a rebuild, which it returns to be run after the group is written.
func (p *Pipeline) gather(group []*request) ([]*request, *rebuildJob) {
	n, size := len(group[0].events), group[0].size
	for n < p.MaxGroupEvents {
		select {
		case r := <-p.reqs:
			if r.rebuild != nil {
				return group, r.rebuild
			}
			if p.MaxGroupBytes > 0 && size+r.size > p.MaxGroupBytes {
				p.carry = r
				return group, nil
			}
			group = append(group, r)
			n += len(r.events)
			size += r.size
		default:
			return group, nil
		}
	}
	return group, nil
}

// waiting is where the writer takes its next request from: p.reqs, or
// when gather carried one over (p.carry), a channel holding that one only,
// so that it is written before any other (or by drain, when Close comes
// first: taken with the group before it, it would have been stored).
func (p *Pipeline) waiting() <-chan *request {
	if p.carry == nil {
		return p.reqs
	}
	c := make(chan *request, 1)
	c <- p.carry
	return c
}

// ExposureChunk bounds the exposures of one transaction of those recorded
// by the server. Storing one costs the writer a few µs of CPU (the user's
// state, loaded and stored back), and a transaction is not interrupted by
// anything but the Go scheduler's preemption after 10 ms: a batch of
// thousands in one transaction would keep a core from the requests for that
// long, which with GOMAXPROCS=1 is every request's p99. 256 keep one
// transaction around a millisecond and cost the per-transaction work about
// 1 µs per exposure.
const ExposureChunk = 256

// flushExposures stores the buffered exposures, in transactions of at most
// ExposureChunk (or MaxGroupEvents when smaller). Between two it pauses
// twice as long as the last one took, away from every run queue, so that
// the scheduler polls the network and the requests that came in meanwhile
// run before the writer does again: when requests keep the core busy the
// writer takes at most a third of it, still far more than exposures need
// (a few µs each against tens of µs for the request that recorded one).
// Pausing as long as the transaction (half the core) gave first-seen
// traffic a p99 about 1 ms higher (8 paired rounds of bench/ofrep.sh on a
// quiet machine: mean 9.1 against 7.9 ms, the same CPU per request).
// drain, at Close, does not pause.
func (p *Pipeline) flushExposures(pause bool) {
	exps := p.exposures.take(p.expBuf[:0])
	for rest := exps; len(rest) > 0; {
		n := min(len(rest), ExposureChunk, p.MaxGroupEvents)
		start := time.Now()
		p.write(nil, rest[:n])
		rest = rest[n:]
		if pause && len(rest) > 0 {
			// A sleep, not runtime.Gosched: a yielding goroutine is queued
			// and picked again before the network is polled.
			time.Sleep(min(2*time.Since(start), maxExposurePause))
		}
	}
	clear(exps) // keep the buffer, not the requests' strings
	p.expBuf = exps[:0]
}

// maxExposurePause bounds one pause of flushExposures, should a transaction
// have been slow for reasons of its own (a disk stalling a commit).
const maxExposurePause = 5 * time.Millisecond

// drain writes the request gather carried over and the exposures still
// buffered at Close, and fails waiting requests that were never picked up.
func (p *Pipeline) drain() {
	if r := p.carry; r != nil {
		// Taken with the group before it, it would have been stored.
		p.carry = nil
		p.write([]*request{r}, nil)
	}
	for {
		select {
		case r := <-p.reqs:
			if r.rebuild != nil {
				if first, _ := p.take(r.rebuild); first {
					p.finishRebuild(r.rebuild, RebuildResult{}, ErrClosed)
				}
			} else {
				r.done <- ErrClosed
			}
			continue
		default:
		}
		break
	}
	p.flushExposures(false)
}

// engine returns env's state (memory mode), recomputing it from the store
// at first use.
func (p *Pipeline) engine(ctx context.Context, env string) (*engine, error) {
	if e := p.engines[env]; e != nil {
		return e, nil
	}
	e, _, err := p.recompute(ctx, env, nil)
	if err != nil {
		return nil, err
	}
	p.engines[env] = e
	return e, nil
}

// recompute builds env's state from its stored events (memory mode),
// reporting to track (nil: nobody watches).
func (p *Pipeline) recompute(ctx context.Context, env string, track *rebuildTracker) (*engine, int64, error) {
	metrics, err := p.Store.Metrics(ctx, env)
	if err != nil {
		return nil, 0, fmt.Errorf("ingest: metrics of %s: %w", env, err)
	}
	// The split changes may be out of date by the time the log is read:
	// the pipeline is the only writer of events here, so what the log holds
	// was stored before them and is filed as it was then; the next
	// transaction finds the version moved and reads them again.
	sp, err := p.readSplits(ctx, env)
	if err != nil {
		return nil, 0, err
	}
	// One part: the engine lives on, with every user.
	r, err := recomputeLog(metrics, p.Dimensions, p.MaxFlagsPerUser, sp.changes, 1, track, func(fn func([]byte) error) error {
		return p.Store.ScanLog(ctx, env, math.MinInt64, fn)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("ingest: recompute %s: %w", env, err)
	}
	e := r.parts[0]
	e.setSplits(sp)
	e.bulk = false
	e.takeDirty()
	return e, r.events, nil
}

// ScanEvents is the scan Recompute takes over events held in memory.
func ScanEvents(events []Event) func(fn func(*Event) error) error {
	return func(fn func(*Event) error) error {
		for i := range events {
			if err := fn(&events[i]); err != nil {
				return err
			}
		}
		return nil
	}
}

// Recompute computes the aggregates of metrics from scratch from the events
// that scan yields (scan is called twice), without any state from before.
// It returns every cell, sorted, and the number of events read.
func Recompute(metrics []metric.Metric, scan func(fn func(*Event) error) error) ([]metric.Aggregate, int64, error) {
	return RecomputePeriods(metrics, nil, scan)
}

// RecomputePeriods is Recompute with the flags' split changes (as
// SplitStore gives them): each cell is of the split period of its users'
// first exposure, as the Pipeline keeps them.
func RecomputePeriods(metrics []metric.Metric, periods map[string][]int64, scan func(fn func(*Event) error) error) ([]metric.Aggregate, int64, error) {
	return RecomputeDimensions(metrics, nil, periods, scan)
}

// RecomputeDimensions is RecomputePeriods with dimensions (validated): the
// cells are kept once more per dimension value, as the Pipeline with
// Dimensions keeps them.
func RecomputeDimensions(metrics []metric.Metric, dims []metric.Dimension, periods map[string][]int64, scan func(fn func(*Event) error) error) ([]metric.Aggregate, int64, error) {
	e := newEngine(metrics, dims...)
	e.persistent, e.bulk = true, true
	e.periods = periods
	var n int64
	err := scan(func(ev *Event) error {
		n++
		if ev.Type == Exposure {
			e.expose(e.touch(ev.TargetingKey), e.intern([]byte(ev.Flag)), e.intern([]byte(ev.Variant)), ev.Time, ev.Attributes, ev.OutsideSplit)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	err = scan(func(ev *Event) error {
		if ev.Type == Tracking {
			if ni, ok := e.names[ev.Name]; ok {
				e.track(e.touch(ev.TargetingKey), ni, ev.Time, ev.Value)
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	e.finishBulk()
	return e.all(), n, nil
}

// RebuildStatus returns the progress of the recomputation under way, if
// there is one (requested by Rebuild, or after a change of metric
// definitions).
func (p *Pipeline) RebuildStatus() (RebuildStatus, bool) {
	if t := p.rebuilding.Load(); t != nil {
		return t.status(), true
	}
	return RebuildStatus{}, false
}

// tracker returns a new tracker for a recomputation of env, published for
// RebuildStatus until the returned function is called.
func (p *Pipeline) tracker(env string) (*rebuildTracker, func()) {
	t := &rebuildTracker{env: env}
	p.rebuilding.Store(t)
	return t, func() { p.rebuilding.CompareAndSwap(t, nil) }
}

// rebuild recomputes env (see Rebuild). Unless force, a StateStore's state
// built with the current definitions already is left as it is.
func (p *Pipeline) rebuild(ctx context.Context, env string, force bool) (RebuildResult, error) {
	if ss, ok := p.Store.(StateStore); ok {
		return p.rebuildState(ctx, ss, env, force)
	}
	track, untrack := p.tracker(env)
	e, n, err := p.recompute(ctx, env, track)
	untrack()
	if err != nil {
		return RebuildResult{}, err
	}
	all := e.all()
	err = p.Store.IngestTx(ctx, func(tx Tx) error {
		return tx.ReplaceAggregates(env, all)
	})
	if err != nil {
		return RebuildResult{}, err
	}
	old := p.engines[env]
	res := RebuildResult{Events: n, Aggregates: len(all)}
	if old != nil {
		res.Changed = !sameAggregates(old.all(), all)
	}
	p.engines[env] = e
	return res, nil
}

// rebuildState recomputes env's per-user state and sums from its stored
// events with the current metric definitions and replaces the stored ones,
// in one transaction that holds env's state exclusively. Unless force, it
// does nothing when the stored state was built with these definitions
// already (by another node, say).
//
// Other nodes store events until the transaction holds the state, so the
// split changes read before it may be out of date: the transaction checks
// their version before it replaces anything and, when a flag changed
// meanwhile, the rebuild starts again. The last attempt holds the version
// from the start instead, which keeps changes of flags waiting for the
// whole rebuild but cannot be outrun by them.
func (p *Pipeline) rebuildState(ctx context.Context, ss StateStore, env string, force bool) (RebuildResult, error) {
	metrics, err := p.Store.Metrics(ctx, env)
	if err != nil {
		return RebuildResult{}, fmt.Errorf("ingest: metrics of %s: %w", env, err)
	}
	for attempt := 1; ; attempt++ {
		res, e, err := p.rebuildStateOnce(ctx, ss, env, metrics, force, attempt == maxSplitRetries)
		var moved *errSplits
		if errors.As(err, &moved) && attempt < maxSplitRetries {
			continue
		}
		if err != nil {
			return RebuildResult{}, err
		}
		p.engines[env] = e
		return res, nil
	}
}

func (p *Pipeline) rebuildStateOnce(ctx context.Context, ss StateStore, env string, metrics []metric.Metric, force, holdFirst bool) (RebuildResult, *engine, error) {
	sp, err := p.readSplits(ctx, env)
	if err != nil {
		return RebuildResult{}, nil, err
	}
	e := p.newEngine(metrics)
	e.setSplits(sp)
	var res RebuildResult
	err = ss.StateTx(ctx, func(tx StateTx) error {
		res = RebuildResult{}
		v, err := tx.StateVersion(env, true)
		if err != nil {
			return err
		}
		if !force && v == e.version {
			return nil
		}
		if holdFirst {
			if err := p.checkSplits(tx, env, sp); err != nil {
				return err
			}
		}
		old, err := tx.Aggregates(env)
		if err != nil {
			return err
		}
		track, untrack := p.tracker(env)
		defer untrack()
		b, err := recomputeLog(metrics, p.Dimensions, p.MaxFlagsPerUser, sp.changes, recomputeParts(), track, func(fn func([]byte) error) error { return tx.ScanLog(env, math.MinInt64, fn) })
		if err != nil {
			return fmt.Errorf("ingest: recompute %s: %w", env, err)
		}
		if !holdFirst {
			if err := p.checkSplits(tx, env, sp); err != nil {
				return err
			}
		}
		all := b.all()
		if err := tx.ReplaceState(env, e.version, b.users(), all); err != nil {
			return err
		}
		res = RebuildResult{Events: b.events, Aggregates: len(all), Changed: !sameAggregates(old, all)}
		return nil
	})
	return res, e, err
}

func sameAggregates(a, b []metric.Aggregate) bool {
	// A dimension's cell is made when a user first counts in it and stays
	// when they leave (excluded later, say): one at zero is no change.
	return slices.Equal(withoutEmptySlices(a), withoutEmptySlices(b))
}

func withoutEmptySlices(as []metric.Aggregate) []metric.Aggregate {
	return slices.DeleteFunc(slices.Clone(as), func(a metric.Aggregate) bool { return a.Dimension != "" && a.Sums.IsZero() })
}

// group is what one transaction writes: per environment, the requests and
// the exposures recorded by the server.
type group struct {
	envs    []string
	byEnv   map[string][]*request
	expsEnv map[string][]Event
	nExps   int
	// lost counts the exposures of environments left out (failEnv).
	lost int
	// logOnly holds, per environment whose recomputation Close cancelled,
	// the stale version of its stored state: while the state still has it,
	// the environment's events go to the log only (writeLog).
	logOnly map[string]string
	// fresh is the buffer claim returns the fresh events in (the
	// Pipeline's, reused); used is the most of it any claim filled.
	fresh []Event
	used  int
	// now is the pipeline's clock (Unix ms) when the group was taken: no
	// exposure is stored later than it (claim).
	now int64
	// counters of the transaction that committed
	stored, dups, recorded, redundant, unanalysed uint64
}

// write stores one group in one transaction and answers its requests.
func (p *Pipeline) write(reqs []*request, exps []recordedExposure) {
	if len(reqs) == 0 && len(exps) == 0 {
		return
	}
	// Not the pipeline's life: drain, after Close, stores the exposures
	// still buffered with this. What may take long, a recomputation of a
	// stale state, is bounded by rebuildStale.
	ctx := context.Background()
	g := &group{byEnv: map[string][]*request{}, expsEnv: map[string][]Event{}, nExps: len(exps), fresh: p.freshBuf, now: p.now().UnixMilli()}
	defer func() {
		// Keep the buffer, not the requests' strings it points to.
		clear(g.fresh[:g.used])
		p.freshBuf = g.fresh
	}()
	// Requests whose caller gave up are skipped: nothing of them is stored.
	for _, r := range reqs {
		if r.ctx.Err() != nil {
			r.done <- r.ctx.Err()
			continue
		}
		if _, ok := g.byEnv[r.env]; !ok {
			g.envs = append(g.envs, r.env)
		}
		g.byEnv[r.env] = append(g.byEnv[r.env], r)
	}
	p.groupExposures(g, exps)
	defer func() {
		clear(p.expEvents) // keep the buffer, not the requests' strings
		p.expEvents = p.expEvents[:0]
	}()
	sort.Strings(g.envs)
	var err error
	if ss, ok := p.Store.(StateStore); ok {
		err = p.writeState(ctx, ss, g)
	} else {
		err = p.writeMemory(ctx, g)
	}
	// Nobody waits for them to be told: counted, as they were not before
	// (an environment whose state could not be recomputed at Close lost
	// them unseen).
	p.counters.ExposuresDropped.Add(uint64(g.lost))
	if err != nil {
		for _, rs := range g.byEnv {
			for _, r := range rs {
				r.done <- err
			}
		}
		p.counters.ExposuresDropped.Add(uint64(g.nExps))
		return
	}
	p.counters.Transactions.Add(1)
	p.counters.Stored.Add(g.stored)
	p.counters.Duplicates.Add(g.dups)
	p.counters.ExposuresRecorded.Add(g.recorded)
	p.counters.ExposuresRedundant.Add(g.redundant)
	p.counters.ExposuresUnanalysed.Add(g.unanalysed)
	for _, rs := range g.byEnv {
		for _, r := range rs {
			r.done <- nil
		}
	}
}

// groupExposures sets g.expsEnv: the exposures of each environment as
// events, in the order taken, in the Pipeline's buffer (reused: a new
// slice per transaction was a third of what the writer allocated per
// exposure), and adds their environments to g.envs.
func (p *Pipeline) groupExposures(g *group, exps []recordedExposure) {
	if cap(p.expEvents) < len(exps) {
		p.expEvents = make([]Event, 0, len(exps))
	}
	buf := p.expEvents[:0]
	var envs []string
	seen := map[string]bool{}
	for i := range exps {
		if env := exps[i].env; !seen[env] {
			seen[env] = true
			envs = append(envs, env)
		}
	}
	// Nearly always one environment; a pass per environment otherwise.
	for _, env := range envs {
		start := len(buf)
		for i := range exps {
			if exps[i].env == env {
				buf = append(buf, exps[i].event())
			}
		}
		g.expsEnv[env] = buf[start:len(buf):len(buf)]
		if _, ok := g.byEnv[env]; !ok {
			g.envs = append(g.envs, env)
		}
	}
	p.expEvents = buf
}

// failEnv answers env's requests with err and leaves env out of g.
func (g *group) failEnv(env string, err error) {
	for _, r := range g.byEnv[env] {
		r.done <- err
	}
	delete(g.byEnv, env)
	g.nExps -= len(g.expsEnv[env])
	g.lost += len(g.expsEnv[env])
	delete(g.expsEnv, env)
	g.envs = slices.DeleteFunc(g.envs, func(e string) bool { return e == env })
}

// claim deduplicates the events of env's requests in one Claim (keys sorted,
// ties in request order), sets each request's fresh marks and returns the
// fresh events, an exposure timed after g.now (the event API takes times a
// little ahead of the server's clock) at g.now. The split period a unit is
// filed under is fixed by its first exposure's time, and a change of a
// split is timed by the server's clock after the transactions that stored
// exposures before it (SplitStore): an exposure stored at its time as sent,
// ahead of the change's, stayed filed under the period before it, where a
// recomputation from the event log filed it under the change's. Served
// before the change, it belongs before it. Its identity (Key) is the time
// as sent, so a retry is still a duplicate.
func (g *group) claim(env string, claim func(env string, keys []DedupKey) ([]bool, error)) ([]Event, error) {
	type ref struct {
		k    DedupKey
		r    *request
		i    int
		rank int
	}
	total := 0
	for _, r := range g.byEnv[env] {
		total += len(r.events)
	}
	refs := make([]ref, 0, total)
	if need := total + len(g.expsEnv[env]); cap(g.fresh) < need {
		clear(g.fresh[:g.used])
		g.fresh, g.used = make([]Event, 0, need), 0
	}
	fresh := g.fresh[:0]
	g.used = max(g.used, total+len(g.expsEnv[env])) // addExposures appends too
	for _, r := range g.byEnv[env] {
		r.fresh = make([]bool, len(r.events))
		for i := range r.events {
			if r.events[i].ID != "" {
				refs = append(refs, ref{r.events[i].Key(), r, i, len(refs)})
			} else {
				r.fresh[i] = true
			}
		}
	}
	if len(refs) > 0 {
		slices.SortFunc(refs, func(a, b ref) int {
			switch {
			case a.k.Time != b.k.Time:
				return cmp.Compare(a.k.Time, b.k.Time)
			case a.k.Hash != b.k.Hash:
				return cmp.Compare(a.k.Hash, b.k.Hash)
			}
			return a.rank - b.rank
		})
		keys := make([]DedupKey, len(refs))
		for j := range refs {
			keys[j] = refs[j].k
		}
		isNew, err := claim(env, keys)
		if err != nil {
			return nil, err
		}
		for j, x := range refs {
			x.r.fresh[x.i] = isNew[j]
		}
	}
	for _, r := range g.byEnv[env] {
		for i, ok := range r.fresh {
			if ok {
				fresh = append(fresh, r.events[i])
				if ev := &fresh[len(fresh)-1]; ev.Type == Exposure && ev.Time > g.now {
					ev.Time = g.now
				}
				g.stored++
			} else {
				g.dups++
			}
		}
	}
	return fresh, nil
}

// writeMemory writes a group to a plain Store: the per-user state lives in
// the pipeline, loaded at first use by recomputing it from the stored
// events, and the absolute sums of the cells changed are stored. When the
// transaction fails, the state of its environments is dropped and recomputed
// from the store at next use. The split changes are those the engine has,
// read again when the transaction finds they are out of date (checkSplits).
func (p *Pipeline) writeMemory(ctx context.Context, g *group) error {
	engines := map[string]*engine{}
	for _, env := range slices.Clone(g.envs) {
		e, err := p.engine(ctx, env)
		if err != nil {
			p.Logger.Error("events: cannot load state", "environment", env, "err", err)
			g.failEnv(env, err)
			continue
		}
		engines[env] = e
	}
	if len(g.envs) == 0 {
		return nil
	}
	for attempt := 1; ; attempt++ {
		err := p.writeMemoryOnce(ctx, g, engines)
		var moved *errSplits
		if errors.As(err, &moved) && attempt < maxSplitRetries {
			// Nothing was applied: the engines are as they were.
			var sp splits
			if sp, err = p.readSplits(ctx, moved.env); err == nil {
				engines[moved.env].setSplits(sp)
				continue
			}
		}
		if err != nil {
			p.Logger.Error("events: transaction failed; state will be recomputed", "err", err)
			for env := range engines {
				delete(p.engines, env) // partly applied: recompute at next use
			}
		}
		return err
	}
}

func (p *Pipeline) writeMemoryOnce(ctx context.Context, g *group, engines map[string]*engine) error {
	return p.Store.IngestTx(ctx, func(tx Tx) error {
		g.stored, g.dups, g.recorded, g.redundant, g.unanalysed = 0, 0, 0, 0, 0
		// Every environment's split changes checked before anything is
		// applied, so that a retry finds the engines untouched.
		for _, env := range g.envs {
			if err := p.checkSplits(tx, env, engines[env].splits()); err != nil {
				return err
			}
		}
		for _, env := range g.envs {
			e := engines[env]
			fresh, err := g.claim(env, tx.Claim)
			if err != nil {
				return err
			}
			fresh = g.addExposures(e, env, fresh)
			if len(fresh) == 0 {
				continue
			}
			if err := g.applyFresh(tx, e, env, fresh); err != nil {
				return err
			}
			if err := tx.PutAggregates(env, e.takeDirty()); err != nil {
				return err
			}
		}
		return nil
	})
}

// logTx is what applyFresh needs of a transaction of either mode
// (Tx, StateTx): env's log, to read back and to append to.
type logTx interface {
	ScanLog(env string, since int64, fn func(data []byte) error) error
	Append(env string, rec LogRecord) error
}

// applyFresh applies a group's fresh events and exposures of env to its
// engine, counts what it left unanalysed and appends them to env's log:
// the step both modes' writes (writeMemoryOnce, writeEnv) share.
func (g *group) applyFresh(tx logTx, e *engine, env string, fresh []Event) error {
	if err := e.apply(fresh, func(since int64, fn func([]byte) error) error { return tx.ScanLog(env, since, fn) }); err != nil {
		return err
	}
	g.unanalysed += e.takeUnanalysed()
	e.finish()
	return tx.Append(env, EncodeLog(fresh))
}

// addExposures appends to fresh the exposures recorded by the server for
// env that change something (their users' state must be in e).
func (g *group) addExposures(e *engine, env string, fresh []Event) []Event {
	for _, ev := range g.expsEnv[env] {
		if e.redundant(&ev) {
			g.redundant++
			continue
		}
		fresh = append(fresh, ev)
		g.recorded++
	}
	return fresh
}

// writeState writes a group to a StateStore: per environment, the users the
// events touch are loaded, changed and stored back, and the changes of the
// sums are added to the stored ones, all in the transaction that stores the
// events. The pipeline keeps only the compiled metric definitions. When the
// stored state was built with other definitions (metrics changed, another
// node rebuilt), the definitions are read again, the state is rebuilt if
// needed, and the group is written again.
func (p *Pipeline) writeState(ctx context.Context, ss StateStore, g *group) error {
	for stale, moved := 0, 0; ; {
		for _, env := range slices.Clone(g.envs) {
			if err := p.stateEngine(ctx, env); err != nil {
				p.Logger.Error("events: cannot read metric definitions or split changes", "environment", env, "err", err)
				g.failEnv(env, err)
			}
		}
		if len(g.envs) == 0 {
			return nil
		}
		err := ss.StateTx(ctx, func(tx StateTx) error {
			g.stored, g.dups, g.recorded, g.redundant, g.unanalysed = 0, 0, 0, 0, 0
			for _, env := range g.envs {
				if err := p.writeEnv(ctx, tx, g, env, p.engines[env]); err != nil {
					return err
				}
			}
			return nil
		})
		var es *errSplits
		if errors.As(err, &es) && moved < maxSplitRetries-1 {
			// A flag changed since the engine's split changes were read.
			moved++
			sp, err := p.readSplits(ctx, es.env)
			if err != nil {
				p.Logger.Error("events: cannot read split changes", "environment", es.env, "err", err)
				g.failEnv(es.env, err)
				continue
			}
			p.engines[es.env].setSplits(sp)
			continue
		}
		var st *errStale
		if !errors.As(err, &st) {
			if err != nil {
				p.Logger.Error("events: transaction failed", "err", err)
			}
			return err
		}
		if stale++; stale > 3 {
			return err
		}
		// Read the definitions again: when the stored state was built with
		// them (another node rebuilt it), write again, nothing to
		// recompute, so that it takes no time and works during drain too;
		// otherwise rebuild, bounded as Rebuild's are.
		delete(p.engines, st.env)
		if err := p.stateEngine(ctx, st.env); err != nil {
			p.Logger.Error("events: cannot read metric definitions or split changes", "environment", st.env, "err", err)
			g.failEnv(st.env, err)
			continue
		}
		if p.engines[st.env].version == st.stored {
			continue
		}
		if err := p.rebuildStale(st.env); errors.Is(err, ErrClosed) {
			// Shutting down: the events are stored all the same, in the
			// log only, the state marked stale for the next recomputation
			// (any later write or start, or a Rebuild) to count them.
			p.Logger.Info("events: closing before the state was rebuilt; storing the events in the log only", "environment", st.env)
			if g.logOnly == nil {
				g.logOnly = map[string]string{}
			}
			g.logOnly[st.env] = st.stored
		} else if err != nil {
			p.Logger.Error("events: cannot rebuild state", "environment", st.env, "err", err)
			g.failEnv(st.env, err)
		} else {
			p.Logger.Info("events: state rebuilt for the current metric definitions", "environment", st.env)
		}
	}
}

// stateEngine readies env's engine for a group (store mode): compiled
// metric definitions and split changes, both kept. Each transaction checks
// that the split changes are still those of the flags' version
// (checkSplits), and they are read again when they are not: one read per
// change of a flag, not per transaction (per transaction the reads were a
// quarter of the writer's CPU, profiled).
func (p *Pipeline) stateEngine(ctx context.Context, env string) error {
	if p.engines[env] != nil {
		return nil
	}
	sp, err := p.readSplits(ctx, env)
	if err != nil {
		return err
	}
	ms, err := p.Store.Metrics(ctx, env)
	if err != nil {
		return err
	}
	e := p.newEngine(ms)
	e.setSplits(sp)
	p.engines[env] = e
	return nil
}

func (p *Pipeline) writeEnv(ctx context.Context, tx StateTx, g *group, env string, e *engine) error {
	v, err := tx.StateVersion(env, false)
	if err != nil {
		return err
	}
	if v != e.version {
		if stale, ok := g.logOnly[env]; ok && v == stale {
			return p.writeLog(ctx, tx, g, env, v)
		}
		return &errStale{env: env, stored: v}
	}
	if err := p.checkSplits(tx, env, e.splits()); err != nil {
		return err
	}
	fresh, err := g.claim(env, tx.Claim)
	if err != nil {
		return err
	}
	e.begin()
	if keys := e.keys(fresh, g.expsEnv[env]); len(keys) > 0 {
		if err := tx.LoadUsers(env, keys, e.load); err != nil {
			return err
		}
	}
	fresh = g.addExposures(e, env, fresh)
	if len(fresh) == 0 {
		return nil
	}
	if err := g.applyFresh(tx, e, env, fresh); err != nil {
		return err
	}
	if err := tx.PutUsers(env, e.changedUsers()); err != nil {
		return err
	}
	return tx.AddAggregates(env, e.takeDirty())
}

// writeLog stores env's events and exposures in the log only, for a write
// that found the stored state (version stored, locked by StateVersion)
// built with other definitions and could not recompute it: Close cancelled
// the recomputation. The log is what every recomputation reads, and the
// state, left as it is, is marked stale in the same transaction
// (MarkStale), so the next write or Rebuild recomputes it and counts them,
// whatever the definitions are then: changed back to those the state was
// built with, the state would otherwise look current and never count them.
// Until then the stored aggregates, of the former definitions, lack them.
//
// Events with an id are claimed as always, so a retry stores nothing twice.
// Exposures cannot be checked against the stale state (it is encoded for
// other definitions), only against those of the group (logExposures); one
// that the state would have found redundant is folded by the recomputation
// to no change (a unit's variant, first time and split period are those of
// its earliest exposure in the log, whatever the order). The calls are a
// prefix of writeEnv's (StateVersion, Claim, Append), then MarkStale,
// which writes the state's row as PutUsers does, so a shared store locks in
// the same order.
func (p *Pipeline) writeLog(ctx context.Context, tx StateTx, g *group, env, stored string) error {
	// Read under the state lock: definitions changed back to those the
	// stored state was built with (since the write saw it stale) make it
	// current, and it must count these events. Compiled as a write's are
	// (the version is of the sorted definitions); rare, so the cost is of
	// no matter.
	ms, err := p.Store.Metrics(ctx, env)
	if err != nil {
		return fmt.Errorf("ingest: metrics of %s: %w", env, err)
	}
	if p.newEngine(ms).version == stored {
		return &errStale{env: env, stored: stored}
	}
	fresh, err := g.claim(env, tx.Claim)
	if err != nil {
		return err
	}
	if fresh = g.logExposures(env, fresh); len(fresh) == 0 {
		return nil
	}
	if err := tx.Append(env, EncodeLog(fresh)); err != nil {
		return err
	}
	return tx.MarkStale(env)
}

// logExposures appends to fresh env's exposures but those an earlier one of
// the group makes redundant (engine.redundant's rule: the user was excluded
// for the flag, or saw the same variant no later).
func (g *group) logExposures(env string, fresh []Event) []Event {
	type unit struct{ key, flag string }
	type seen struct {
		variant           string
		t0                int64
		excluded, outside bool
	}
	units := map[unit]*seen{}
	for _, ev := range g.expsEnv[env] {
		k := unit{ev.TargetingKey, ev.Flag}
		switch s := units[k]; {
		case s == nil:
			units[k] = &seen{variant: ev.Variant, t0: ev.Time, outside: ev.OutsideSplit}
		case s.excluded || (s.variant == ev.Variant && noLater(&ev, s.t0, s.outside)):
			g.redundant++
			continue
		case s.variant != ev.Variant:
			s.excluded = true
		default:
			// Earlier, or at t0 in the split (noLater): ev's mark is the unit's.
			s.t0, s.outside = ev.Time, ev.OutsideSplit
		}
		fresh = append(fresh, ev)
		g.recorded++
	}
	return fresh
}
