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
// concurrent senders through a node's pipeline and reports events/s: an
// event counts once acknowledged, that is durable in PostgreSQL with the
// per-user state and the aggregates updated. 5 metrics, 100,000 users.
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
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
