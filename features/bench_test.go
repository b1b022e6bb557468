package features_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/bench/cputime"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/sqlite/sqlitetest"
	"github.com/valueloop/valueloop/value"
)

// The benchmark's world: 10,000 features over 20 objectives in a real
// SQLite store, their lifecycles derived from 100,000 linked commits (and,
// by stage, rollouts, verdicts and cleanups) as the periodic sync leaves
// them. The 6,000 features past ready each link a flag of their own in
// production; by stage (one fifth each) they are building, releasing,
// measuring, decided (validated or invalidated, flag still defined: the
// cleanup and turn-off lists) or done (flag removed). Every flag from
// releasing on has an experiment hypothesis and experiment data (about
// 4,800, 2,400 of them releasing or measuring): 40 users each, half
// exposed to each variant, one in eight converting, ingested through the
// real pipeline. A verdict names its flag, as a recorded one does, so Next
// analyses a decided feature's experiment for a sample ratio mismatch.
// Half the features state no metric of their own, so a decided one
// reaches its flag's hypothesis for the effect hoped for.
const (
	benchFeatures = 10000
	benchChanges  = 100000
	benchUsers    = 40
)

type benchWorld struct {
	db      *sqlite.DB
	flags   map[string]*valueloop.Flag // defined flags by key
	env     valueloop.Environment
	now     time.Time
	running int // features releasing or measuring
}

func newBenchWorld(b *testing.B) *benchWorld {
	ctx := context.Background()
	w := &benchWorld{db: sqlitetest.Open(b, nil), flags: map[string]*valueloop.Flag{},
		env: valueloop.Environment{Key: "production", Name: "production", Production: true}}
	if err := w.db.CreateEnvironment(ctx, w.env, "bench"); err != nil {
		b.Fatal(err)
	}
	m := metric.Metric{Key: "m", Kind: metric.Conversion, Event: "purchase"}
	if err := w.db.CreateMetric(ctx, "production", &m, "bench"); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(10000, 100000))
	horizon, _ := value.ParseDate("2027-06-30")
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	w.now = t0.AddDate(1, 0, 0)
	var file value.File
	for i := range 20 {
		file.Objectives = append(file.Objectives, value.Objective{Key: fmt.Sprintf("objective-%02d", i), Title: "o", Metric: "m",
			Target: value.Target{Direction: experiment.Increase, Value: 0.1}, Horizon: horizon})
	}
	events := map[string][]value.Event{}
	var exposures []ingest.Event
	changes := 0
	for i := range benchFeatures {
		key := fmt.Sprintf("feature-%05d", i)
		f := value.Feature{Key: key, Title: key, Objective: file.Objectives[i%20].Key, Hypothesis: value.Hypothesis{Change: key},
			Estimate: &value.Estimate{CostOfDelay: &value.CostOfDelay{UserValue: float64(1 + r.IntN(20)), TimeCriticality: float64(r.IntN(13))}, Size: float64(1 + r.IntN(13))}}
		if i%2 == 0 {
			f.Hypothesis.Metric, f.Hypothesis.MinimumEffect = "m", 0.05
		}
		start := t0.Add(time.Duration(r.IntN(300*24)) * time.Hour)
		at := func(d float64) time.Time { return start.Add(time.Duration(d * 24 * float64(time.Hour))) }
		f.CreatedAt = start
		evs := []value.Event{value.CreatedEvent(&f, "")}
		if i >= 4000 {
			flag := fmt.Sprintf("flag-%05d", i)
			f.Links.Flags = []value.FlagLink{{Environment: "production", Flag: flag}}
			n := (benchChanges - changes) / (benchFeatures - i)
			for j := range n {
				evs = append(evs, value.Event{ID: fmt.Sprintf("commit:%s/%d", key, j), Kind: value.CommitPushed, At: at(2 + float64(j)/4), Cause: "commit"})
			}
			changes += n
			stage := r.IntN(5)
			if stage < 4 {
				w.flags[flag] = benchFlag(flag)
			}
			if stage >= 1 {
				w.hypothesis(b, flag)
				evs = append(evs, value.Event{ID: key + "/rs", Kind: value.RolloutStarted, At: at(9), Cause: "rollout"})
			}
			if stage == 1 || stage == 2 {
				w.running++
			}
			if stage >= 1 {
				exposures = append(exposures, benchExposures(r, flag, at(9))...)
			}
			if stage >= 2 {
				evs = append(evs, value.Event{ID: key + "/rc", Kind: value.RolloutCompleted, At: at(14), Cause: "complete"})
			}
			if stage >= 3 {
				x := r.Float64() / 10
				evs = append(evs, value.Event{ID: key + "/v", Kind: value.VerdictRecorded, Stage: []value.Stage{value.Validated, value.Invalidated}[r.IntN(2)], At: at(30), Effect: &x, Cause: "verdict",
					Environment: "production", Flag: flag})
			}
			if stage >= 4 {
				evs = append(evs, value.Event{ID: key + "/rm", Kind: value.FlagRemoved, At: at(45), Cause: "removed", Environment: "production", Flag: flag})
			}
		}
		file.Features = append(file.Features, f)
		events[key] = evs
	}
	if err := w.db.ApplyValue(ctx, &file, value.Plan(&value.File{}, &file, false), "bench"); err != nil {
		b.Fatal(err)
	}
	for _, f := range file.Features {
		l := value.Derive(events[f.Key], f.Links.Flags)
		if _, err := w.db.SaveLifecycle(ctx, f.Key, &l); err != nil {
			b.Fatal(err)
		}
	}
	w.ingest(b, exposures)
	return w
}

func benchFlag(key string) *valueloop.Flag {
	off := "off"
	return &valueloop.Flag{Key: key, State: valueloop.StateEnabled, DefaultVariant: &off,
		Variants: map[string]any{"off": false, "on": true}}
}

func (w *benchWorld) hypothesis(b *testing.B, flag string) {
	h := experiment.NewHypothesis()
	h.PrimaryMetric, h.MinimumEffect = "m", 0.05
	if err := h.Normalize([]metric.Metric{{Key: "m", Kind: metric.Conversion, Event: "purchase"}}, []string{"off", "on"}); err != nil {
		b.Fatal(err)
	}
	if err := w.db.PutHypothesis(context.Background(), "production", flag, h, "bench"); err != nil {
		b.Fatal(err)
	}
}

// benchExposures exposes benchUsers users to flag from at, half to each
// variant, one in eight of them converting.
func benchExposures(r *rand.Rand, flag string, at time.Time) []ingest.Event {
	var out []ingest.Event
	for u := range benchUsers {
		user := fmt.Sprintf("%s/user-%d", flag, u)
		ms := at.Add(time.Duration(u) * time.Hour).UnixMilli()
		out = append(out, ingest.Event{Type: ingest.Exposure, Time: ms, TimeSet: true, TargetingKey: user, Flag: flag,
			Variant: []string{"off", "on"}[u%2]})
		if r.IntN(8) == 0 {
			out = append(out, ingest.Event{Type: ingest.Tracking, Time: ms + 1000, TimeSet: true, TargetingKey: user, Name: "purchase"})
		}
	}
	return out
}

func (w *benchWorld) ingest(b *testing.B, events []ingest.Event) {
	p := ingest.NewPipeline(w.db, nil)
	if err := p.Open(); err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	for len(events) > 0 {
		n := min(len(events), 5000)
		if _, err := p.Ingest(context.Background(), "production", events[:n]); err != nil {
			b.Fatal(err)
		}
		events = events[n:]
	}
}

// service returns a service over store (the world's store, or the same
// hiding what it adds to features.Store) as the server wires it.
func (w *benchWorld) service(store features.Store) *features.Service {
	svc := features.New(store, w.db)
	svc.Now = func() time.Time { return w.now }
	svc.Environments = func() []valueloop.Environment { return []valueloop.Environment{w.env} }
	svc.Definition = func(env, flag string) *valueloop.Flag { return w.flags[flag] }
	svc.FlagsVersion = func() string { return "1" } // the flags never change
	return svc
}

// onlyStore is the world's store with nothing but features.Store: the
// service then reads every feature again after a write, as it did before
// ValueChanges.
type onlyStore struct{ features.Store }

// BenchmarkService is the server's work for 'valueloop next', a feature
// page's place in it (Place) and 'valueloop flow --since 90d' (less the
// HTTP encoding) over the world above:
//
//   - warm: the features and the linked flags' facts cached;
//   - cold: the first read after a write (a feature's title changed
//     between reads, not timed);
//   - cold-full-read: the same through a store that cannot tell what
//     changed (every feature decoded again): the baseline of cold;
//   - first: the first Next of a service, which reads and analyses every
//     linked flag's experiment (done by Open before any request), and
//     checks the verdicts' for a sample ratio mismatch; analysed-cpu-ns/op
//     is the same with every verdict's experiment analysed in full, as
//     before the check read users only, and ratio the one over the other.
//
// Run: go test ./features -run '^$' -bench Service -benchtime 10x
func BenchmarkService(b *testing.B) {
	w := newBenchWorld(b)
	ctx := context.Background()
	next := func(svc *features.Service) func() error {
		return func() error {
			n, err := svc.Next(ctx, features.NextOptions{})
			if err == nil && (len(n.Ranked) != 4000 || len(n.Stop) == 0) {
				err = fmt.Errorf("%d ranked, %d to stop", len(n.Ranked), len(n.Stop))
			}
			return err
		}
	}
	place := func(svc *features.Service) func() error {
		return func() error {
			p, err := svc.Place(ctx, "feature-00001", features.NextOptions{})
			if err == nil && p.Of != 4000 {
				err = fmt.Errorf("place of %d ranked", p.Of)
			}
			return err
		}
	}
	flow := func(svc *features.Service) func() error {
		return func() error {
			_, err := svc.Flow(ctx, features.FlowOptions{Since: 90 * 24 * time.Hour})
			return err
		}
	}
	write := func(i int) {
		f, err := w.db.Feature(ctx, "feature-00000")
		if err == nil {
			f.Title = fmt.Sprintf("title %d", i)
			err = w.db.PutFeature(ctx, f, "bench")
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	svc, full := w.service(w.db), w.service(onlyStore{w.db})
	if err := next(svc)(); err != nil { // warms the flag facts both share the cost of
		b.Fatal(err)
	}
	if err := next(full)(); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d features releasing or measuring with experiment data", w.running)
	for _, c := range []struct {
		name  string
		read  func() error
		write bool
	}{
		{"next/warm", next(svc), false},
		{"next/cold", next(svc), true},
		{"next/cold-full-read", next(full), true},
		{"place/warm", place(svc), false},
		{"place/cold", place(svc), true},
		{"flow/warm", flow(svc), false},
		{"flow/cold", flow(svc), true},
		{"flow/cold-full-read", flow(full), true},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				if c.write {
					b.StopTimer()
					write(i)
					b.StartTimer()
				}
				start := cputime.Used()
				if err := c.read(); err != nil {
					b.Fatal(err)
				}
				cpu += cputime.Used() - start
			}
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
	}
	// The first next, and alternately the same through the code before
	// the sample-ratio check read users only (every verdict's experiment
	// analysed in full): its baseline, measured in the same run so that
	// the ratio holds whatever the machine's load.
	b.Run("next/first", func(b *testing.B) {
		var cpu, before time.Duration
		for i := 0; i < b.N; i++ {
			for _, analysed := range []bool{false, true} {
				fresh := w.service(w.db)
				start := cputime.Used()
				if analysed {
					if err := features.AnalyseVerdicts(fresh, ctx); err != nil {
						b.Fatal(err)
					}
				}
				if err := next(fresh)(); err != nil {
					b.Fatal(err)
				}
				if analysed {
					before += cputime.Used() - start
				} else {
					cpu += cputime.Used() - start
				}
			}
		}
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(before)/float64(b.N), "analysed-cpu-ns/op")
		b.ReportMetric(float64(cpu)/float64(before), "ratio")
	})
}
