package httpapi

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/ofrep"
)

// gatedStore is an ingest.Store whose first call blocks until released: the
// stand-in for a slow disk. It counts every call.
type gatedStore struct {
	calls   atomic.Int64
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	stored  atomic.Int64 // log records appended
}

func (s *gatedStore) gate() {
	s.calls.Add(1)
	s.once.Do(func() { close(s.entered); <-s.release })
}

func (s *gatedStore) Metrics(context.Context, string) ([]metric.Metric, error) {
	s.gate()
	return nil, nil
}

func (s *gatedStore) ScanLog(context.Context, string, int64, func([]byte) error) error {
	s.gate()
	return nil
}

func (s *gatedStore) IngestTx(_ context.Context, fn func(ingest.Tx) error) error {
	s.gate()
	return fn(gatedTx{s})
}

type gatedTx struct{ s *gatedStore }

func (gatedTx) Claim(_ string, keys []ingest.DedupKey) ([]bool, error) {
	ok := make([]bool, len(keys))
	for i := range ok {
		ok[i] = true
	}
	return ok, nil
}
func (gatedTx) ScanLog(string, int64, func([]byte) error) error { return nil }
func (t gatedTx) Append(string, ingest.LogRecord) error         { t.s.stored.Add(1); return nil }
func (gatedTx) PutAggregates(string, []metric.Aggregate) error  { return nil }
func (gatedTx) ReplaceAggregates(string, []metric.Aggregate) error {
	return nil
}

// TestFirstSeenExposureRequestPath counts the work an evaluation does on the
// request goroutine for a user seen for the first time: while the writer is
// stuck inside the store (as on a slow disk), every first exposure is still
// recorded, with no allocation, no call of the store and no wait for a lock
// the writer holds; once the store answers, every one of them is stored.
// (It counts; it does not time.)
func TestFirstSeenExposureRequestPath(t *testing.T) {
	store := &gatedStore{entered: make(chan struct{}), release: make(chan struct{})}
	p := ingest.NewPipeline(store, nil)
	p.FlushInterval = time.Millisecond
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	s := &Server{Registry: prometheus.NewRegistry(), Events: &Events{Pipeline: p, Now: time.Now}}
	s.metrics = newMetrics(s.Registry)
	s.exposures = newExposureFilter(1 << 20)

	const n = 5000
	ctxs := make([]map[string]any, n)
	for i := range ctxs {
		ctxs[i] = map[string]any{"targetingKey": fmt.Sprintf("new-user-%d", i)}
	}
	caller := ofrep.Caller{Environment: "production"}
	res := &evaluation.Result{FlagKey: "checkout", Variant: "on", Reason: evaluation.ReasonStatic}
	next := 0
	evaluate := func() {
		s.evaluated(nil, caller, ctxs[next], res)
		next++
	}

	// Warm up until every shard of the filter has its table, then wait
	// for the writer to take the first batch and get stuck in the store.
	for !allTables(s.exposures) {
		evaluate()
	}
	<-store.entered
	calls := store.calls.Load()

	done := make(chan float64)
	go func() {
		done <- testing.AllocsPerRun(n-next-1, evaluate)
	}()
	var allocs float64
	select {
	case allocs = <-done:
	case <-time.After(time.Minute):
		t.Fatal("recording first exposures waited for the store")
	}
	if allocs != 0 {
		t.Errorf("%.1f allocations per first-seen evaluation, want 0", allocs)
	}
	if got := store.calls.Load(); got != calls {
		t.Errorf("the store was called %d times while the writer was stuck in it, want 0", got-calls)
	}
	c := p.Counters()
	if c.ExposuresDropped.Load() != 0 {
		t.Errorf("%d exposures dropped", c.ExposuresDropped.Load())
	}

	close(store.release)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got := c.ExposuresRecorded.Load(); got != uint64(next) {
		t.Errorf("%d exposures stored of %d first-seen evaluations", got, next)
	}
	// Stored in batches: transactions of up to ingest.ExposureChunk, not
	// one per exposure (a few batches, each of a few chunks).
	if tx, most := c.Transactions.Load(), uint64(next/ingest.ExposureChunk+10); tx == 0 || tx > most {
		t.Errorf("%d transactions for %d exposures, want at most %d", tx, next, most)
	}
}

func allTables(f *exposureFilter) bool {
	for i := range f.shards {
		if f.shards[i].buckets == nil {
			return false
		}
	}
	return true
}
