package verdicts_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/sqlite/sqlitetest"
	"github.com/valueloop/valueloop/storetest"
	"github.com/valueloop/valueloop/verdicts"
)

// store is the real SQLite store, with the aggregates handed in: the
// test computes them with the real aggregation (ingest.Recompute) instead
// of sending events through a pipeline.
type store struct {
	*sqlite.DB
	mu   sync.Mutex
	aggs map[string][]metric.Aggregate
}

func (s *store) Aggregates(_ context.Context, env, flag string) ([]metric.Aggregate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.aggs[env+"/"+flag], nil
}

func (s *store) setAggregates(env, flag string, a []metric.Aggregate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aggs[env+"/"+flag] = a
}

var _ verdicts.Store = (*store)(nil)

// aggregates of users split evenly between control and treatment, who
// convert with the given probabilities.
func aggregates(t *testing.T, flag string, users int, control, treatment float64) []metric.Aggregate {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(users), 9))
	var events []ingest.Event
	add := func(ev ingest.Event) {
		ev.ID, ev.TimeSet, ev.Time = fmt.Sprint(len(events)), true, 1_767_225_600_000+int64(len(events))
		events = append(events, ev)
	}
	for i := range users {
		variant, p := "control", control
		if i%2 == 1 {
			variant, p = "treatment", treatment
		}
		key := fmt.Sprintf("u%d", i)
		add(ingest.Event{Type: ingest.Exposure, Flag: flag, Variant: variant, TargetingKey: key})
		if r.Float64() < p {
			add(ingest.Event{Type: ingest.Tracking, Name: "signup", TargetingKey: key})
		}
	}
	return storetest.RecomputeEvents(t, []metric.Metric{signup}, events)
}

var signup = metric.Metric{Key: "signup", Kind: metric.Conversion, Event: "signup"}

func setup(t *testing.T) (*store, *verdicts.Recorder, *storetest.Clock) {
	t.Helper()
	ctx := context.Background()
	clock := &storetest.Clock{T: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	db := sqlitetest.Open(t, clock.Now)
	if err := db.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	m := signup
	if err := db.CreateMetric(ctx, "prod", &m, "t"); err != nil {
		t.Fatal(err)
	}
	s := &store{DB: db, aggs: map[string][]metric.Aggregate{}}
	for _, flag := range []string{"win", "flat"} {
		h := experiment.NewHypothesis()
		h.PrimaryMetric, h.MinimumEffect = "signup", 0.1
		if err := db.PutHypothesis(ctx, "prod", flag, h, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	rec := verdicts.New(s)
	rec.Definition = func(env, flag string) *valueloop.Flag {
		d := "control"
		return &valueloop.Flag{Key: flag, State: valueloop.StateEnabled, Variants: map[string]any{"control": false, "treatment": true}, DefaultVariant: &d}
	}
	return s, rec, clock
}

// TestCheck: the check records a flag's first final verdict once, a
// different final verdict again, and never a verdict still undecided.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	s, rec, clock := setup(t)
	s.setAggregates("prod", "win", aggregates(t, "win", 4000, 0.1, 0.2))
	s.setAggregates("prod", "flat", aggregates(t, "flat", 200, 0.1, 0.1))

	steps := []struct {
		name      string
		win       []metric.Aggregate // new aggregates of "win"; nil keeps them
		recorded  int
		decisions []experiment.Decision
	}{
		{"first validated", nil, 1, []experiment.Decision{experiment.Validated}},
		{"still validated", nil, 0, []experiment.Decision{experiment.Validated}},
		{"now harmful", aggregates(t, "win", 4002, 0.2, 0.1), 1, []experiment.Decision{experiment.Validated, experiment.Invalidated}},
		{"undecided again", aggregates(t, "win", 100, 0.1, 0.1), 0, []experiment.Decision{experiment.Validated, experiment.Invalidated}},
	}
	for i, st := range steps {
		clock.T = clock.T.Add(time.Hour)
		if st.win != nil {
			s.setAggregates("prod", "win", st.win)
		}
		n, err := rec.Check(ctx)
		if err != nil || n != st.recorded {
			t.Errorf("%s: Check() = %d, %v; want %d", st.name, n, err, st.recorded)
		}
		h, err := rec.History(ctx, "prod", "win")
		if err != nil {
			t.Fatal(err)
		}
		var got []experiment.Decision
		for _, r := range h {
			got = append(got, r.Decision)
		}
		if fmt.Sprint(got) != fmt.Sprint(st.decisions) {
			t.Errorf("%s: history %v, want %v", st.name, got, st.decisions)
		}
		if i == 0 && (len(h) != 1 || !h[0].At.Equal(clock.T) || h[0].Figures.Users != 4000 || h[0].Figures.Effect == nil || h[0].Figures.PrimaryMetric != "signup") {
			t.Errorf("%s: record %+v, want one at %v with 4000 users and the effect on signup", st.name, h, clock.T)
		}
	}
	if h, _ := rec.History(ctx, "prod", "flat"); len(h) != 0 {
		t.Errorf("flat experiment: history %+v, want none", h)
	}
	if d, err := s.FixedDecision(ctx, "prod", "win"); d != nil || err != nil {
		t.Errorf("sequential inference: fixed decision %+v, %v; want none", d, err)
	}
	d, at, err := rec.Latest(ctx, "prod", "win")
	if err != nil || d != string(experiment.Invalidated) || !at.Equal(time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)) {
		t.Errorf("Latest() = %q at %v, %v; want invalidated at 15:00", d, at, err)
	}
	if d, at, err := rec.Latest(ctx, "prod", "flat"); err != nil || d != "" || !at.IsZero() {
		t.Errorf("Latest(no verdict) = %q at %v, %v; want nothing", d, at, err)
	}
}

// TestCheckSkipsBrokenExperiment: a hypothesis that no longer fits (its
// metric was deleted) is skipped; the other flags' verdicts are recorded.
func TestCheckSkipsBrokenExperiment(t *testing.T) {
	ctx := context.Background()
	s, rec, _ := setup(t)
	h := experiment.NewHypothesis()
	h.PrimaryMetric, h.MinimumEffect = "gone", 0.1
	if err := s.PutHypothesis(ctx, "prod", "broken", h, "alice"); err != nil {
		t.Fatal(err)
	}
	s.setAggregates("prod", "broken", aggregates(t, "broken", 4000, 0.1, 0.2))
	s.setAggregates("prod", "win", aggregates(t, "win", 4000, 0.1, 0.2))
	if n, err := rec.Check(ctx); err != nil || n != 1 {
		t.Errorf("Check() = %d, %v; want 1 recorded despite the broken experiment", n, err)
	}
}

// TestOpenRecordsWithoutAnyoneLooking: the periodic check, run as
// singleton work, records a verdict nobody asked for.
func TestOpenRecordsWithoutAnyoneLooking(t *testing.T) {
	ctx := context.Background()
	s, rec, _ := setup(t)
	rec.Interval = 10 * time.Millisecond
	if err := rec.Open(); err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	s.setAggregates("prod", "win", aggregates(t, "win", 4000, 0.1, 0.2))
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, _, err := rec.Latest(ctx, "prod", "win")
		if err != nil {
			t.Fatal(err)
		}
		if d == string(experiment.Validated) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no verdict recorded within 10s: got %q", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOpenRejectsBadInterval(t *testing.T) {
	_, rec, _ := setup(t)
	rec.Interval = 0
	if err := rec.Open(); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("Open() with interval 0 = %v, want invalid", err)
	}
}
