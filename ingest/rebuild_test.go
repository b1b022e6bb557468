package ingest

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gatedStore is a stateStore whose recomputations (full scans of the log),
// once hold is set, report that they started and then wait for the gate to
// open or their context to end, as a slow one on a real store would.
type gatedStore struct {
	*stateStore
	hold     atomic.Bool
	gate     chan struct{} // closed: recomputations go on
	started  chan struct{} // a recomputation started
	rebuilds atomic.Int64  // transactions that recomputed
}

func newGatedStore() *gatedStore {
	return &gatedStore{stateStore: newStateStore(), gate: make(chan struct{}), started: make(chan struct{}, 16)}
}

func (s *gatedStore) StateTx(ctx context.Context, fn func(StateTx) error) error {
	return s.stateStore.StateTx(ctx, func(tx StateTx) error {
		return fn(&gatedTx{stateTx: tx.(*stateTx), s: s, ctx: ctx})
	})
}

type gatedTx struct {
	*stateTx
	s       *gatedStore
	ctx     context.Context
	scanned bool
}

func (tx *gatedTx) ScanLog(env string, since int64, fn func([]byte) error) error {
	if since == math.MinInt64 && !tx.scanned && tx.s.hold.Load() {
		tx.scanned = true
		tx.s.rebuilds.Add(1)
		tx.s.started <- struct{}{}
		select {
		case <-tx.s.gate:
		case <-tx.ctx.Done():
			return tx.ctx.Err()
		}
	}
	return tx.stateTx.ScanLog(env, since, fn)
}

// openGated opens a pipeline on a gated store holding some events of prod.
func openGated(t *testing.T) (*Pipeline, *gatedStore) {
	t.Helper()
	s := newGatedStore()
	s.metrics["prod"] = testMetrics()
	p := NewPipeline(s, nil)
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if _, err := p.Ingest(t.Context(), "prod", randomEvents(rand.New(rand.NewPCG(1, 2)), 200)); err != nil {
		t.Fatal(err)
	}
	s.hold.Store(true)
	return p, s
}

// waitCallers waits until the rebuild of env not yet started serves n calls.
func waitCallers(p *Pipeline, env string, n int) {
	for {
		p.jobsMu.Lock()
		j := p.jobs[env]
		ok := j != nil && !j.started && j.callers == n
		p.jobsMu.Unlock()
		if ok {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRebuildCoalesces: while one rebuild runs, the calls that come share
// one more, whatever their number, and a caller that gives up leaves it
// running for the others.
func TestRebuildCoalesces(t *testing.T) {
	p, s := openGated(t)
	first := make(chan error, 1)
	go func() { _, err := p.Rebuild(context.Background(), "prod"); first <- err }()
	<-s.started
	const n = 5
	errs := make(chan error, n)
	var wg sync.WaitGroup
	gaveUp, giveUp := context.WithCancel(context.Background())
	for i := range n {
		ctx := context.Background()
		if i == 0 {
			ctx = gaveUp
		}
		wg.Add(1)
		go func() { defer wg.Done(); _, err := p.Rebuild(ctx, "prod"); errs <- err }()
	}
	waitCallers(p, "prod", n)
	giveUp()
	close(s.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	var canceled int
	for err := range errs {
		switch {
		case errors.Is(err, context.Canceled):
			canceled++
		case err != nil:
			t.Errorf("a coalesced rebuild: %v", err)
		}
	}
	if canceled > 1 {
		t.Errorf("%d callers saw their rebuild cancelled, want at most the one that gave up", canceled)
	}
	if got := s.rebuilds.Load(); got != 2 {
		t.Errorf("%d recomputations for %d calls of Rebuild, want 2 (the one under way and one for the rest)", got, n+1)
	}
}

// TestRebuildEndsAtClose: Close cancels a rebuild under way rather than
// waiting for it, and its caller is told the pipeline closed.
func TestRebuildEndsAtClose(t *testing.T) {
	p, s := openGated(t)
	res := make(chan error, 1)
	go func() { _, err := p.Rebuild(context.Background(), "prod"); res <- err }()
	<-s.started
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-res; !errors.Is(err, ErrClosed) {
		t.Errorf("rebuild under way at Close: %v, want %v", err, ErrClosed)
	}
}

// TestRebuildTimeout: a rebuild that outlasts RebuildTimeout fails with the
// deadline named, and the next one runs.
func TestRebuildTimeout(t *testing.T) {
	p, s := openGated(t)
	p.RebuildTimeout = 50 * time.Millisecond // read by the writer at each rebuild
	_, err := p.Rebuild(context.Background(), "prod")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("rebuild stuck past its timeout: %v, want %v", err, context.DeadlineExceeded)
	}
	<-s.started
	close(s.gate)
	p.RebuildTimeout = time.Hour
	if _, err := p.Rebuild(context.Background(), "prod"); err != nil {
		t.Fatalf("the rebuild after a timed out one: %v", err)
	}
}

// openStale opens a pipeline whose metric definitions are not those the
// stored state of prod was built with (changed while no node ran): its
// first write to prod must recompute the state, and that recomputation
// waits at the store's gate.
func openStale(t *testing.T) (*Pipeline, *gatedStore) {
	t.Helper()
	old, s := openGated(t)
	old.Close()
	s.mu.Lock()
	s.metrics["prod"] = testMetrics()[:2]
	s.mu.Unlock()
	p := NewPipeline(s, nil)
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, s
}

// staleEvents are events of prod for a write that finds the state stale.
func staleEvents() []Event {
	return []Event{{ID: "late", TargetingKey: "u1", Type: Tracking, Name: "click", Time: 1_700_000_000_500, TimeSet: true}}
}

// within fails t unless ch yields within a few seconds (a call stuck on a
// recomputation that nothing bounds); gate is then opened to free it.
func within[T any](t *testing.T, s *gatedStore, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		close(s.gate)
		t.Fatalf("%s: still waiting for the recomputation", what)
		panic("unreachable")
	}
}

// closeDuringStale writes events to prod of p (openStale), runs meanwhile,
// while the recomputation the write started waits at the gate, and closes
// p (failing t unless Close ends promptly); it returns the write's error.
func closeDuringStale(t *testing.T, p *Pipeline, s *gatedStore, events []Event, meanwhile func()) error {
	t.Helper()
	res := make(chan error, 1)
	go func() { _, err := p.Ingest(context.Background(), "prod", events); res <- err }()
	<-s.started
	meanwhile()
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	if err := within(t, s, "Close", closed); err != nil {
		t.Fatal(err)
	}
	return <-res
}

// TestStaleRebuildEndsAtClose: Close cancels the recomputation a write
// started because the stored state was of other definitions, as it cancels
// one asked for by Rebuild, and does not wait for it; the write's events and
// the exposures buffered meanwhile are stored in the log only
// (TestCloseDuringStaleRebuildStoresLog).
func TestStaleRebuildEndsAtClose(t *testing.T) {
	p, s := openStale(t)
	err := closeDuringStale(t, p, s, staleEvents(), func() {
		p.RecordExposure("prod", "f1", "on", "u1", time.UnixMilli(1_700_000_000_600), nil, false)
	})
	if err != nil {
		t.Errorf("write whose recomputation Close cancelled: %v, want it stored in the log", err)
	}
	c := p.Counters()
	if rec, drop := c.ExposuresRecorded.Load(), c.ExposuresDropped.Load(); rec != 1 || drop != 0 {
		t.Errorf("exposure buffered at Close with the state stale: %d stored, %d counted dropped; want 1 and 0", rec, drop)
	}
}

// TestCloseDuringStaleRebuildStoresLog: what a Close during the
// recomputation of a stale state leaves unwritten (the write that started
// the recomputation, exposures buffered meanwhile) goes to the log, events
// with an id claimed, exposures redundant within the batch left out; the
// state is marked stale, and the next recomputation counts all of it.
func TestCloseDuringStaleRebuildStoresLog(t *testing.T) {
	p, s := openStale(t)
	before := len(s.events("prod"))
	at := func(ms int64) time.Time { return time.UnixMilli(1_700_000_000_000 + ms) }
	err := closeDuringStale(t, p, s, staleEvents(), func() {
		p.RecordExposure("prod", "f1", "on", "late-user", at(600), nil, false)
		p.RecordExposure("prod", "f1", "on", "late-user", at(700), nil, false) // redundant: same variant, later
		p.RecordExposure("prod", "f2", "off", "late-user", at(650), nil, false)
	})
	if err != nil {
		t.Fatalf("write whose recomputation Close cancelled: %v", err)
	}
	c := p.Counters()
	if rec, red, drop := c.ExposuresRecorded.Load(), c.ExposuresRedundant.Load(), c.ExposuresDropped.Load(); rec != 2 || red != 1 || drop != 0 {
		t.Errorf("exposures at Close: %d recorded, %d redundant, %d dropped; want 2, 1, 0", rec, red, drop)
	}
	var ids, exps int
	for _, ev := range s.events("prod")[before:] {
		switch {
		case ev.ID == "late":
			ids++
		case ev.Type == Exposure && ev.TargetingKey == "late-user":
			exps++
		}
	}
	if ids != 1 || exps != 2 {
		t.Fatalf("in the log after Close: event \"late\" %d times, %d exposures of late-user; want 1 and 2", ids, exps)
	}
	metrics := testMetrics()[:2]
	s.mu.Lock()
	v := s.versions["prod"]
	s.mu.Unlock()
	if v != "" {
		t.Fatalf("the stored state has version %q after the write to the log only, want \"\": marked stale, for no definitions to find it current without the events of the log only", v)
	}
	// The next start recomputes at its first write, which finds the
	// event stored already.
	s.hold.Store(false)
	q := NewPipeline(s, nil)
	if err := q.Open(); err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	fresh, err := q.Ingest(t.Context(), "prod", staleEvents())
	if err != nil || fresh[0] {
		t.Fatalf("the same event after the restart: fresh %v, %v; want a duplicate", fresh, err)
	}
	if d := diffAggregates(s.stored("prod"), naive(metrics, s.events("prod"), nil)); d != "" {
		t.Fatalf("after the recomputation, stored aggregates differ from the events of the log:\n%s", d)
	}
}

// TestStaleRebuildTimeout: the recomputation a write starts for a stale
// state is bounded by RebuildTimeout, and the write after it recomputes
// again.
func TestStaleRebuildTimeout(t *testing.T) {
	p, s := openStale(t)
	p.RebuildTimeout = 50 * time.Millisecond
	res := make(chan error, 1)
	go func() { _, err := p.Ingest(context.Background(), "prod", staleEvents()); res <- err }()
	if err := within(t, s, "Ingest", res); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write whose recomputation outlasted RebuildTimeout: %v, want %v", err, context.DeadlineExceeded)
	}
	<-s.started
	close(s.gate)
	p.RebuildTimeout = time.Hour
	if _, err := p.Ingest(context.Background(), "prod", staleEvents()); err != nil {
		t.Fatalf("the write after a timed out recomputation: %v", err)
	}
	if got := s.rebuilds.Load(); got != 2 {
		t.Errorf("%d recomputations, want 2 (the one timed out, then the one that served the write)", got)
	}
}

// TestStaleRebuildServesRebuild: a call of Rebuild waiting to start when a
// write finds the state stale is served by the write's recomputation: one
// recomputation, not two.
func TestStaleRebuildServesRebuild(t *testing.T) {
	p, s := openStale(t)
	// The writer busy with another environment while a write of prod and
	// then a Rebuild of prod queue up behind it.
	busy := make(chan error, 1)
	go func() { _, err := p.Rebuild(context.Background(), "staging"); busy <- err }()
	<-s.started
	wrote := make(chan error, 1)
	go func() { _, err := p.Ingest(context.Background(), "prod", staleEvents()); wrote <- err }()
	for len(p.reqs) < 1 {
		time.Sleep(time.Millisecond)
	}
	rebuilt := make(chan RebuildResult, 1)
	go func() {
		res, err := p.Rebuild(context.Background(), "prod")
		if err != nil {
			t.Error(err)
		}
		rebuilt <- res
	}()
	waitCallers(p, "prod", 1)
	close(s.gate)
	if err := <-busy; err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if res := <-rebuilt; res.Events != 200 {
		t.Errorf("the Rebuild served by the write's recomputation read %d events, want the 200 stored before", res.Events)
	}
	if got := s.rebuilds.Load(); got != 2 {
		t.Errorf("%d recomputations, want 2 (staging, then one of prod for the write and the Rebuild)", got)
	}
}

// TestCloseStoresAfterOtherNodeRebuilt: exposures still buffered at Close
// are stored when the stored state was rebuilt by another node for the
// current definitions: the writer reads them again, nothing to recompute,
// although Close has ended the pipeline's life that bounds recomputations.
func TestCloseStoresAfterOtherNodeRebuilt(t *testing.T) {
	s := newGatedStore()
	s.metrics["prod"] = testMetrics()
	a, b := NewPipeline(s, nil), NewPipeline(s, nil)
	a.FlushInterval = time.Hour // nothing stored before Close
	for _, p := range []*Pipeline{a, b} {
		if err := p.Open(); err != nil {
			t.Fatal(err)
		}
		defer p.Close()
	}
	if _, err := a.Ingest(t.Context(), "prod", randomEvents(rand.New(rand.NewPCG(1, 2)), 50)); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.metrics["prod"] = testMetrics()[:2]
	s.mu.Unlock()
	if _, err := b.Rebuild(t.Context(), "prod"); err != nil {
		t.Fatal(err)
	}
	if !a.RecordExposure("prod", "f1", "on", "newcomer", time.UnixMilli(1_700_000_000_100), nil, false) {
		t.Fatal("exposure not buffered")
	}
	s.hold.Store(true) // a recomputation now would wait: there must be none
	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	if err := within(t, s, "Close", closed); err != nil {
		t.Fatal(err)
	}
	if got := a.Counters().ExposuresRecorded.Load(); got != 1 {
		t.Errorf("%d exposures stored at Close, want 1 (dropped: %d)", got, a.Counters().ExposuresDropped.Load())
	}
}

// TestCloseStaleDefinitionsChangedBack: when the definitions are changed
// back to those the stored state was built with while Close cancels the
// recomputation, the state is current again and the write updates it as
// usual: stored in the log only, its events would be missing from a state
// that no later write recomputes.
func TestCloseStaleDefinitionsChangedBack(t *testing.T) {
	p, s := openStale(t)
	events := []Event{
		{ID: "late-exp", TargetingKey: "late-user", Type: Exposure, Flag: "f1", Variant: "on", Time: 1_700_000_000_500, TimeSet: true},
		{ID: "late", TargetingKey: "late-user", Type: Tracking, Name: "click", Time: 1_700_000_000_550, TimeSet: true},
	}
	err := closeDuringStale(t, p, s, events, func() {
		s.mu.Lock()
		s.metrics["prod"] = testMetrics()
		s.mu.Unlock()
	})
	if err != nil {
		t.Fatalf("write whose recomputation Close cancelled: %v", err)
	}
	if d := diffAggregates(s.stored("prod"), naive(testMetrics(), s.events("prod"), nil)); d != "" {
		t.Fatalf("stored aggregates of the state current again differ from the events of the log:\n%s", d)
	}
}

// TestRebuildAfterCloseServedByStaleWrite: a call of Rebuild whose job a
// write's recomputation of the stale state ran (rebuildStale) before the
// call could enqueue it, and that finds the pipeline closed when it tries,
// gets its result: the job is not finished a second time (which closed its
// channel twice: a panic), nor reported ErrClosed though it finished.
func TestRebuildAfterCloseServedByStaleWrite(t *testing.T) {
	p, s := openStale(t)
	// Rebuild's first step; the caller is then held up before enqueuing.
	j, enqueue := p.rebuildJob("prod")
	if !enqueue {
		t.Fatal("no rebuild of prod should be waiting")
	}
	close(s.gate)
	if _, err := p.Ingest(context.Background(), "prod", staleEvents()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-j.done:
	default:
		t.Fatal("the write's recomputation of the stale state did not run the waiting rebuild")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// The caller goes on: with the writer gone, enqueuing and the end of
	// the pipeline are both ready, and either may be chosen; many tries
	// choose the end.
	for i := range 64 {
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Fatalf("try %d: Rebuild panicked: %v", i, v)
				}
			}()
			if _, err := p.awaitRebuild(context.Background(), j, true); err != nil {
				t.Errorf("try %d: %v, want the result of the rebuild the write ran", i, err)
			}
		}()
	}
}

// TestLogOnlyCountedAfterDefinitionsChangedBack: a write stored in the log
// only at Close (the state of other definitions) marks the state stale, so
// that when the definitions are then changed back to those the state was
// built with, and nothing rebuilds meanwhile (the change's own Rebuild
// cancelled by another shutdown, say), the next write still recomputes the
// state and counts the records of the log only: the state's version alone
// would say it is current.
func TestLogOnlyCountedAfterDefinitionsChangedBack(t *testing.T) {
	p, s := openStale(t)
	events := []Event{
		{ID: "late-exp", TargetingKey: "late-user", Type: Exposure, Flag: "f1", Variant: "on", Time: 1_700_000_000_500, TimeSet: true},
		{ID: "late", TargetingKey: "late-user", Type: Tracking, Name: "click", Time: 1_700_000_000_550, TimeSet: true},
	}
	if err := closeDuringStale(t, p, s, events, func() {}); err != nil {
		t.Fatalf("write whose recomputation Close cancelled: %v", err)
	}
	s.mu.Lock()
	s.metrics["prod"] = testMetrics() // those the stored state was built with
	s.mu.Unlock()
	s.hold.Store(false)
	q := NewPipeline(s, nil)
	if err := q.Open(); err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	after := []Event{{ID: "after", TargetingKey: "u1", Type: Tracking, Name: "click", Time: 1_700_000_000_600, TimeSet: true}}
	if _, err := q.Ingest(t.Context(), "prod", after); err != nil {
		t.Fatal(err)
	}
	if d := diffAggregates(s.stored("prod"), naive(testMetrics(), s.events("prod"), nil)); d != "" {
		t.Fatalf("the write after the definitions were changed back left the records of the log only uncounted:\n%s", d)
	}
}
