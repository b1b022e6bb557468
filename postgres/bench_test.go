package postgres_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop/bench/cputime"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/postgres/pgtest"
	"github.com/valueloop/valueloop/storetest"
)

// BenchmarkIngest stores events with ids in batches of 1,000 from 8
// concurrent senders through a node's pipeline and reports events/s: an
// event counts once acknowledged, that is durable in PostgreSQL with the
// per-user state and the aggregates updated. 5 metrics, 100,000 users.
// On a shared machine the rate depends on what else runs; the CPU time per
// event, of this process and of the PostgreSQL server processes (read from
// /proc when the server runs on this host), does not: 1 s divided by their
// sum is the rate the pipeline, whose transactions alternate between Go and
// PostgreSQL work, reaches on an otherwise idle machine.
//
//	VALUELOOP_TEST_POSTGRES=... go test -run '^$' -bench Ingest -benchtime 400000x ./postgres/
func BenchmarkIngest(b *testing.B) {
	ctx := context.Background()
	s := MustOpen(b, pgtest.Schema(b), nil)
	storetest.CreateEnvWithMetrics(b, s, "prod", storetest.Metrics(b))
	p := storetest.OpenPipeline(b, s)
	const batch, senders = 1000, 8
	r := rand.New(rand.NewPCG(1, 2))
	events := storetest.GenEvents(r, 0, max(b.N, batch), 100_000)
	b.ResetTimer()
	start := time.Now()
	goCPU, pgCPU := cputime.Used().Seconds(), postgresCPU()
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
	goUs, pgUs := (cputime.Used().Seconds()-goCPU)*1e6/float64(b.N), (postgresCPU()-pgCPU)*1e6/float64(b.N)
	b.ReportMetric(goUs, "go-µs/event")
	if pgCPU > 0 {
		b.ReportMetric(pgUs, "pg-µs/event")
		b.ReportMetric(1e6/(goUs+pgUs), "idle-events/s")
	}
}

// postgresCPU returns the CPU seconds used by the processes named postgres
// on this host (0 when there are none or /proc cannot be read).
func postgresCPU() float64 {
	dirs, _ := os.ReadDir("/proc")
	var ticks float64
	for _, d := range dirs {
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		name, rest, ok := strings.Cut(string(b), ") ")
		if !ok || !strings.HasSuffix(name, "(postgres") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		ticks += ut + st
	}
	return ticks / 100
}
