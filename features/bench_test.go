package features_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/value"
)

// benchService stores 10,000 features over 20 objectives in a real SQLite
// store with their lifecycles derived from 100,000 linked commits (and, by
// stage, deployments, rollouts, verdicts and cleanups), as the periodic
// sync leaves them; next and flow then read what a server reads.
func benchService(b *testing.B) *features.Service {
	ctx := context.Background()
	db := sqlite.NewDB(filepath.Join(b.TempDir(), "bench.db"))
	if err := db.Open(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	r := rand.New(rand.NewPCG(10000, 100000))
	horizon, _ := value.ParseDate("2027-06-30")
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	var file value.File
	for i := range 20 {
		file.Objectives = append(file.Objectives, value.Objective{Key: fmt.Sprintf("objective-%02d", i), Title: "o", Metric: "m",
			Target: value.Target{Direction: experiment.Increase, Value: 0.1}, Horizon: horizon})
	}
	events := map[string][]value.Event{}
	changes := 0
	for i := range 10000 {
		key := fmt.Sprintf("feature-%05d", i)
		f := value.Feature{Key: key, Title: key, Objective: file.Objectives[i%20].Key, Hypothesis: value.Hypothesis{Change: key, Metric: "m", MinimumEffect: 0.05},
			Estimate: &value.Estimate{CostOfDelay: &value.CostOfDelay{UserValue: float64(1 + r.IntN(20)), TimeCriticality: float64(r.IntN(13))}, Size: float64(1 + r.IntN(13))}}
		start := t0.Add(time.Duration(r.IntN(300*24)) * time.Hour)
		at := func(d float64) time.Time { return start.Add(time.Duration(d * 24 * float64(time.Hour))) }
		f.CreatedAt = start
		evs := []value.Event{value.CreatedEvent(&f, "")}
		if i >= 4000 {
			n := (100000 - changes) / (10000 - i)
			for j := range n {
				evs = append(evs, value.Event{ID: fmt.Sprintf("commit:%s/%d", key, j), Kind: value.CommitPushed, At: at(2 + float64(j)/4), Cause: "commit"})
			}
			changes += n
			stage := r.IntN(5)
			if stage >= 1 {
				evs = append(evs, value.Event{ID: key + "/rs", Kind: value.RolloutStarted, At: at(9), Cause: "rollout"})
			}
			if stage >= 2 {
				evs = append(evs, value.Event{ID: key + "/rc", Kind: value.RolloutCompleted, At: at(14), Cause: "complete"})
			}
			if stage >= 3 {
				x := r.Float64() / 10
				evs = append(evs, value.Event{ID: key + "/v", Kind: value.VerdictRecorded, Stage: []value.Stage{value.Validated, value.Invalidated}[r.IntN(2)], At: at(30), Effect: &x, Cause: "verdict"})
			}
			if stage >= 4 {
				evs = append(evs, value.Event{ID: key + "/rm", Kind: value.FlagRemoved, At: at(45), Cause: "removed"})
			}
		}
		file.Features = append(file.Features, f)
		events[key] = evs
	}
	if err := db.ApplyValue(ctx, &file, value.Plan(&value.File{}, &file, false), "bench"); err != nil {
		b.Fatal(err)
	}
	for key, evs := range events {
		l := value.Derive(evs)
		if _, err := db.SaveLifecycle(ctx, key, &l); err != nil {
			b.Fatal(err)
		}
	}
	svc := features.New(db, db)
	svc.Now = func() time.Time { return t0.AddDate(1, 0, 0) }
	return svc
}

// BenchmarkServiceNext is the server's work for 'valueloop next' (less the
// HTTP encoding): read 10,000 features and lifecycles, rank, list what to
// stop.
func BenchmarkServiceNext(b *testing.B) {
	svc := benchService(b)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		n, err := svc.Next(context.Background(), features.NextOptions{})
		if err != nil || len(n.Ranked) != 4000 {
			b.Fatalf("%v, %d ranked", err, len(n.Ranked))
		}
	}
}

// BenchmarkServiceFlow is the server's work for 'valueloop flow --since 90d'.
func BenchmarkServiceFlow(b *testing.B) {
	svc := benchService(b)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := svc.Flow(context.Background(), features.FlowOptions{Since: 90 * 24 * time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
}

func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
