package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop/bench/cputime"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/storetest"
)

// BenchmarkPipeline measures the write path without HTTP: batches of 1,000
// events of 100,000 users (20% exposures, 20% purchases, 60% page views,
// all with ids), four requests in flight, five metrics, into a SQLite file.
// "state" keeps the per-user state in the store (as serve does), "memory"
// hides the StateStore so that the pipeline keeps it in memory (the cost of
// persisting it is the difference); "syncfull" is "state" on a store that
// syncs every commit (serve --sync full: the figure docs/operations.md
// quotes is the ratio of the two).
func BenchmarkPipeline(b *testing.B) {
	for _, mode := range []string{"state", "memory", "syncfull"} {
		b.Run(mode, func(b *testing.B) {
			ctx := b.Context()
			d := sqlite.NewDB(filepath.Join(b.TempDir(), "test.db"))
			d.SyncFull = mode == "syncfull"
			db := storetest.Opened(b, d, &d.Now, nil)
			storetest.CreateEnvWithMetrics(b, db, "prod", storetest.Metrics(b))
			var store ingest.Store = db
			if mode == "memory" {
				store = plainStore{db}
			}
			p := ingest.NewPipeline(store, nil)
			if err := p.Open(); err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			r := rand.New(rand.NewPCG(1, 2))
			const batch, users = 1000, 100_000
			var batches [][]ingest.Event
			for i := range 200 {
				batches = append(batches, storetest.GenEvents(r, i*batch, batch, users))
			}
			// Warm up: most users have state.
			for i := 0; i < 300; i++ {
				if _, err := p.Ingest(ctx, "prod", storetest.GenEvents(r, (200+i)*batch, batch, users)); err != nil {
					b.Fatal(err)
				}
			}
			round := 1
			var n int
			cpu0 := cputime.Seconds()
			for b.Loop() {
				var wg sync.WaitGroup
				work := make(chan []ingest.Event)
				for range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for evs := range work {
							if _, err := p.Ingest(ctx, "prod", evs); err != nil {
								b.Error(err)
							}
						}
					}()
				}
				for _, bt := range batches {
					// The prepared batches again, later: new ids.
					evs := slices.Clone(bt)
					for i := range evs {
						evs[i].Time += int64(round) * 1_000_000
					}
					work <- evs
					n += len(evs)
				}
				round++
				close(work)
				wg.Wait()
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			if cpu1 := cputime.Seconds(); cpu0 >= 0 && cpu1 > cpu0 {
				b.ReportMetric(float64(n)/(cpu1-cpu0), "events/cpu-s")
			}
		})
	}
}

// plainStore hides that a DB is an ingest.StateStore.
type plainStore struct{ db *sqlite.DB }

func (s plainStore) Metrics(ctx context.Context, env string) ([]metric.Metric, error) {
	return s.db.Metrics(ctx, env)
}

func (s plainStore) ScanLog(ctx context.Context, env string, since int64, fn func([]byte) error) error {
	return s.db.ScanLog(ctx, env, since, fn)
}

func (s plainStore) IngestTx(ctx context.Context, fn func(ingest.Tx) error) error {
	return s.db.IngestTx(ctx, fn)
}

// TestRestartReadsNoEvents stops a pipeline, removes the stored event
// records behind the store's back, and continues with a new pipeline: the
// sums of the old and new events stay exact, which they could not if the new
// pipeline had rebuilt its per-user state from the (now missing) events.
func TestRestartReadsNoEvents(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "events.db")
	db := mustOpenFile(t, path, nil)
	metrics := storetest.Metrics(t)
	storetest.CreateEnvWithMetrics(t, db, "prod", metrics)
	r := rand.New(rand.NewPCG(3, 4))
	old := storetest.GenEvents(r, 0, 2000, 150)
	p := ingest.NewPipeline(db, nil)
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(old); i += 100 {
		if _, err := p.Ingest(ctx, "prod", old[i:i+100]); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	var stored []ingest.Event
	if err := db.Events(ctx, "prod", func(ev *ingest.Event) error { stored = append(stored, *ev); return nil }); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`DELETE FROM event_log`); err != nil {
		t.Fatal(err)
	}
	// New events, all later than the old ones.
	p = storetest.OpenPipeline(t, db)
	next := storetest.GenEvents(r, 1_000_000, 2000, 150)
	for i := 0; i < len(next); i += 100 {
		if _, err := p.Ingest(ctx, "prod", next[i:i+100]); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Events(ctx, "prod", func(ev *ingest.Event) error { stored = append(stored, *ev); return nil }); err != nil {
		t.Fatal(err)
	}
	want := storetest.RecomputeEvents(t, metrics, stored)
	got, err := db.Aggregates(ctx, "prod", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 4000 || !slices.Equal(got, want) {
		t.Fatalf("%d events; aggregates after the restart differ from old + new events:\n got %v\nwant %v", len(stored), got, want)
	}
}

// TestMigrationKeepsEventIDs opens a database of the first event schema
// (ids in event_ids): the ids are still recognised, and the per-user state
// is built from the stored events at first use.
func TestMigrationKeepsEventIDs(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE migrations (name TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"0001_init.sql", "0002_events.sql"} {
		buf, err := os.ReadFile(filepath.Join("migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(string(buf)); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(`INSERT INTO migrations (name) VALUES (?)`, "migrations/"+name); err != nil {
			t.Fatal(err)
		}
	}
	events := storetest.GenEvents(rand.New(rand.NewPCG(5, 6)), 0, 300, 40)
	rec := ingest.EncodeLog(events)
	if _, err := raw.Exec(`INSERT INTO event_log (environment, min_time, max_time, count, data) VALUES ('prod', ?, ?, ?, ?)`, rec.MinTime, rec.MaxTime, rec.Count, rec.Data); err != nil {
		t.Fatal(err)
	}
	tx, err := raw.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		k := ev.Key()
		if _, err := tx.Exec(`INSERT INTO event_ids (environment, time, hash) VALUES ('prod', ?, ?)`, k.Time, k.Hash); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db := mustOpenFile(t, path, nil)
	storetest.CreateEnvWithMetrics(t, db, "prod", storetest.Metrics(t))
	p := storetest.OpenPipeline(t, db)
	fresh, err := p.Ingest(ctx, "prod", append(events[:10:10], storetest.GenEvents(rand.New(rand.NewPCG(7, 8)), 1000, 10, 40)...))
	if err != nil {
		t.Fatal(err)
	}
	if want := "[false false false false false false false false false false true true true true true true true true true true]"; fmt.Sprint(fresh) != want {
		t.Errorf("fresh = %v, want the 10 old events recognised as duplicates and the 10 new ones stored", fresh)
	}
	got, err := db.Aggregates(ctx, "prod", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := storetest.Recompute(t, db, "prod"); !slices.Equal(got, want) {
		t.Fatalf("aggregates differ from the recomputation:\n got %v\nwant %v", got, want)
	}
}

// BenchmarkRecordedExposures measures what the writer spends storing the
// exposures the server records (RecordExposure) for users never seen
// before, as under first-seen OFREP traffic: per exposure, the CPU of the
// whole process (the writer's, as nothing else runs) and of the garbage
// collector's marking; the number of transactions (of at most
// ingest.ExposureChunk: how long the writer keeps a core from the requests
// at a time); and at the end, every user in memory, the heap the collector
// scans and the objects it marks at each cycle (run with -benchtime
// 1000000x to see them for a million users).
func BenchmarkRecordedExposures(b *testing.B) {
	db := MustOpen(b, nil)
	storetest.CreateEnvWithMetrics(b, db, "prod", storetest.Metrics(b))
	p := ingest.NewPipeline(db, nil)
	if err := p.Open(); err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	keys := make([]string, 0, 1<<16)
	at := time.UnixMilli(1_700_000_000_000)
	n := 0
	mark0 := gcMarkSeconds()
	cpu0 := cputime.Seconds()
	for b.Loop() {
		n++
		keys = append(keys[:0], fmt.Sprintf("new-%d", n))
		for !p.RecordExposure("prod", "checkout", "on", keys[0], at, nil, false) {
			time.Sleep(time.Millisecond) // the buffer is full: let the writer catch up
		}
	}
	for p.Counters().ExposuresRecorded.Load() < uint64(n) {
		time.Sleep(time.Millisecond)
	}
	if cpu1 := cputime.Seconds(); cpu0 >= 0 && cpu1 > cpu0 {
		b.ReportMetric((cpu1-cpu0)/float64(n)*1e6, "cpu-us/exposure")
	}
	b.ReportMetric(float64(p.Counters().Transactions.Load()), "transactions")
	b.ReportMetric((gcMarkSeconds()-mark0)/float64(n)*1e6, "gc-mark-cpu-us/exposure")
	runtime.GC()
	heap := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}, {Name: "/gc/heap/objects:objects"}}
	metrics.Read(heap)
	b.ReportMetric(float64(heap[0].Value.Uint64())/1e6, "scanned-MB")
	b.ReportMetric(float64(heap[1].Value.Uint64()), "heap-objects")
}

// gcMarkSeconds is the CPU time the garbage collector has spent marking.
func gcMarkSeconds() float64 {
	mark := []metrics.Sample{{Name: "/cpu/classes/gc/mark/assist:cpu-seconds"},
		{Name: "/cpu/classes/gc/mark/dedicated:cpu-seconds"}, {Name: "/cpu/classes/gc/mark/idle:cpu-seconds"}}
	metrics.Read(mark)
	return mark[0].Value.Float64() + mark[1].Value.Float64() + mark[2].Value.Float64()
}
