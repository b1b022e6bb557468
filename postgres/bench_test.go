package postgres_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/postgres/pgtest"
	"github.com/valueloop/valueloop/storetest"
)

// BenchmarkIngest stores events with ids in batches of 1,000 from 8
// concurrent senders through a node's pipeline (acknowledged = durable in
// PostgreSQL) while the aggregator folds them, and reports both rates:
// ack-events/s (stored and acknowledged) and folded-events/s (until the
// aggregates include the last one). 5 metrics, 100,000 users.
//
//	VALUELOOP_TEST_POSTGRES=... go test -run '^$' -bench Ingest -benchtime 400000x ./postgres/
func BenchmarkIngest(b *testing.B) {
	ctx := context.Background()
	s := MustOpen(b, pgtest.Schema(b), nil)
	if err := s.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		b.Fatal(err)
	}
	ms := storetest.Metrics(b)
	for i := range ms {
		if err := s.CreateMetric(ctx, "prod", &ms[i], "t"); err != nil {
			b.Fatal(err)
		}
	}
	p := storetest.OpenPipeline(b, s)
	const batch, senders = 1000, 8
	r := rand.New(rand.NewPCG(1, 2))
	events := storetest.GenEvents(r, 0, max(b.N, batch), 100_000)
	foldCtx, stop := context.WithCancel(ctx)
	folded := make(chan error, 1)
	go func() { folded <- s.agg.Run(foldCtx) }()

	b.ResetTimer()
	start := time.Now()
	next := make(chan []ingest.Event)
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for evs := range next {
				if _, err := p.Ingest(ctx, "prod", evs); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := 0; i < b.N; i += batch {
		next <- events[i:min(i+batch, b.N)]
	}
	close(next)
	wg.Wait()
	acked := time.Since(start)
	if err := s.Settle(ctx); err != nil {
		b.Fatal(err)
	}
	all := time.Since(start)
	b.StopTimer()
	stop()
	<-folded
	b.ReportMetric(float64(b.N)/acked.Seconds(), "ack-events/s")
	b.ReportMetric(float64(b.N)/all.Seconds(), "folded-events/s")
}
