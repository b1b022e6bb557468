package storetest

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/valueloop/valueloop/ingest"
)

// gatedStore is an EventStore whose recomputations (full scans of the log)
// report that they started and then wait for their context to end, as a
// long one does when Close cancels it.
type gatedStore struct {
	EventStore
	started chan struct{}
}

// stateSplitTx is the transaction of a store that keeps per-user state
// and split changes, as both SQL stores do.
type stateSplitTx interface {
	ingest.StateTx
	ingest.SplitTx
}

func (g *gatedStore) StateTx(ctx context.Context, fn func(ingest.StateTx) error) error {
	return g.EventStore.(ingest.StateStore).StateTx(ctx, func(tx ingest.StateTx) error {
		return fn(&gatedTx{stateSplitTx: tx.(stateSplitTx), g: g, ctx: ctx})
	})
}

func (g *gatedStore) SplitChanges(ctx context.Context, env string) (map[string][]int64, int64, error) {
	return g.EventStore.(ingest.SplitStore).SplitChanges(ctx, env)
}

type gatedTx struct {
	stateSplitTx
	g   *gatedStore
	ctx context.Context
}

func (tx *gatedTx) ScanLog(env string, since int64, fn func([]byte) error) error {
	if since == math.MinInt64 {
		select {
		case tx.g.started <- struct{}{}:
		default: // told already
		}
		<-tx.ctx.Done()
		return tx.ctx.Err()
	}
	return tx.stateSplitTx.ScanLog(env, since, fn)
}

// testLogOnlyChangedBack is the sequence the log-only write's MarkStale is
// for, end to end: the metric definitions change while no pipeline
// rebuilds (the change's Rebuild cancelled by a shutdown, say); a write
// finds the state stale and Close cancels its recomputation, so its events
// go to the log only; the definitions are changed back to those the state
// was built with, and again nothing rebuilds. The next write must count the
// events of the log only: by its version alone the state looks current.
func testLogOnlyChangedBack(t *testing.T, s EventStore) {
	_, state := s.(ingest.StateStore)
	_, splits := s.(ingest.SplitStore)
	if !state || !splits {
		t.Skip("the store keeps no per-user state or split changes")
	}
	ctx := context.Background()
	ms := Metrics(t)
	CreateEnvWithMetrics(t, s, "prod", ms[:3])
	r := rand.New(rand.NewPCG(7, 8))
	p := OpenPipeline(t, s)
	if _, err := p.Ingest(ctx, "prod", GenEvents(r, 0, 500, 50)); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if err := s.CreateMetric(ctx, "prod", &ms[3], "t"); err != nil {
		t.Fatal(err)
	}
	g := &gatedStore{EventStore: s, started: make(chan struct{}, 1)}
	closing := ingest.NewPipeline(g, nil)
	if err := closing.Open(); err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() { _, err := closing.Ingest(ctx, "prod", GenEvents(r, 500, 200, 50)); wrote <- err }()
	select {
	case <-g.started:
	case err := <-wrote:
		t.Fatalf("write to a state of other definitions ended (%v) without recomputing it", err)
	}
	if err := closing.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err != nil {
		t.Fatalf("write whose recomputation Close cancelled: %v, want it stored in the log only", err)
	}
	if n, err := s.EventCount(ctx, "prod"); err != nil || n != 700 {
		t.Fatalf("EventCount after the log-only write = %d, %v; want 700", n, err)
	}
	if err := s.DeleteMetric(ctx, "prod", ms[3].Key, "t"); err != nil {
		t.Fatal(err)
	}
	p = OpenPipeline(t, s)
	if _, err := p.Ingest(ctx, "prod", GenEvents(r, 700, 100, 50)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Aggregates(ctx, "prod", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := Recompute(t, s, "prod"); !reflect.DeepEqual(got, want) {
		t.Fatalf("definitions changed back after a log-only write: the next write's aggregates differ from the recomputation (the log-only events uncounted?):\n got %v\nwant %v", got, want)
	}
}
