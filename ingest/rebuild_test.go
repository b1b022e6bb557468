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
