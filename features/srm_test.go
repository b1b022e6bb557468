package features_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/value"
)

// TestNextSampleRatioMismatch: a verdict stands in the feature's record
// (the decision was taken), but once its experiment shows a sample ratio
// mismatch (300 users on off, 100 on on, of a 50/50 split) its objective's
// record of bets counts it neither way: it kept raising the objective's
// confidence and effect factors although no number of the experiment
// could be trusted.
func TestNextSampleRatioMismatch(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	h := experiment.NewHypothesis()
	h.PrimaryMetric, h.MinimumEffect = "m", 0.05
	h.Settings.Weights = map[string]float64{"off": 1, "on": 1}
	if err := h.Normalize([]metric.Metric{{Key: "m", Kind: metric.Conversion, Event: "e"}}, []string{"off", "on"}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutHypothesis(ctx, "production", "f1", h, "t"); err != nil {
		t.Fatal(err)
	}
	if err := svc.PutFeature(ctx, feature("a", "f1"), "", "t"); err != nil {
		t.Fatal(err)
	}
	rec := &experiment.VerdictRecord{Environment: "production", Flag: "f1", Decision: experiment.Validated, Code: experiment.CodeWorthShipping, Reason: "r",
		Figures: experiment.VerdictFigures{PrimaryMetric: "m", Effect: &experiment.Bounds{Estimate: 0.08}}}
	if _, err := db.RecordVerdict(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Sync(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	bets := func() (int, int, int, float64) {
		t.Helper()
		n, err := svc.Next(ctx, features.NextOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b := n.Bets[0]
		return b.Validated, b.Mismatched, b.Measured, b.Effect
	}
	// 0.08 / 0.05 = 1.6: (1 + 1.6) / (1 + 1) = 1.3.
	if v, m, x, e := bets(); v != 1 || m != 0 || x != 1 || math.Abs(e-1.3) > 1e-9 {
		t.Errorf("before the mismatch: %d validated, %d mismatched, %d measured, effect %v; want 1, 0, 1, 1.3", v, m, x, e)
	}
	var events []ingest.Event
	at := time.Now().Add(-time.Hour).UnixMilli()
	for u := range 400 {
		events = append(events, ingest.Event{Type: ingest.Exposure, Time: at, TimeSet: true, TargetingKey: fmt.Sprintf("user-%d", u),
			Flag: "f1", Variant: []string{"off", "off", "off", "on"}[u%4]})
	}
	mustIngest(t, db, events)
	svc.Forget()
	if v, m, x, e := bets(); v != 0 || m != 1 || x != 0 || e != 1 {
		t.Errorf("after the mismatch: %d validated, %d mismatched, %d measured, effect %v; want 0, 1, 0, 1", v, m, x, e)
	}
	// objective show and flow --objective leave it out of the progress
	// as next does, and say so, reading the verdicts' flags only: not
	// every flag's sighting, which they do not show.
	svc.Forget()
	counted := &sightingCounter{Store: svc.Store}
	svc.Store = counted
	progress, err := svc.Progress(ctx, "o")
	if err != nil {
		t.Fatal(err)
	}
	flow, err := svc.Flow(ctx, features.FlowOptions{Objective: "o"})
	if err != nil {
		t.Fatal(err)
	}
	if counted.n != 0 {
		t.Errorf("objective show and flow read every flag's sightings %d times; want none", counted.n)
	}
	n, err := svc.Next(ctx, features.NextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*value.Progress{"objective show": progress, "flow": flow.Progress, "next": n.Bets[0].Progress} {
		if p == nil || len(p.Counted) != 0 || !strings.Contains(p.Summary, "1 verdict not counted: sample ratio mismatch") {
			t.Errorf("%s: progress %+v; want a's verdict not counted, saying so", name, p)
		}
	}
	// flow's throughput and validated share leave it out too, and say
	// so, with or without an objective.
	for _, o := range []features.FlowOptions{{Objective: "o"}, {}} {
		f, err := svc.Flow(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		validated := 0
		for _, w := range f.Throughput {
			validated += w.Total()
		}
		if validated != 0 || f.Validated != 0 || f.Mismatched != 1 || f.Mismatches() != "1 verdict not counted: sample ratio mismatch" {
			t.Errorf("flow %+v: %d verdicts in the throughput, %d validated shipped, %d mismatched; want 0, 0, 1", o, validated, f.Validated, f.Mismatched)
		}
	}
	if ls, _ := db.Lifecycles(ctx); ls["a"].Stage != "validated" {
		t.Errorf("feature a is %s, want validated still (the decision was taken)", ls["a"].Stage)
	}
}

// sightingCounter counts the reads of every flag's sightings.
type sightingCounter struct {
	features.Store
	n int
}

func (c *sightingCounter) Sightings(ctx context.Context) ([]features.Sighting, error) {
	c.n++
	return c.Store.Sightings(ctx)
}

// mustDecided stores hypothesis h on flag of production, feature a-FLAG
// linking it, and a validated verdict on the flag (+8 % of m).
func mustDecided(t *testing.T, svc *features.Service, db *sqlite.DB, flag string, h *experiment.Hypothesis) {
	t.Helper()
	ctx := context.Background()
	if err := db.PutHypothesis(ctx, "production", flag, h, "t"); err != nil {
		t.Fatal(err)
	}
	if err := svc.PutFeature(ctx, feature("a-"+flag, flag), "", "t"); err != nil {
		t.Fatal(err)
	}
	rec := &experiment.VerdictRecord{Environment: "production", Flag: flag, Decision: experiment.Validated, Code: experiment.CodeWorthShipping, Reason: "r",
		Figures: experiment.VerdictFigures{PrimaryMetric: "m", Effect: &experiment.Bounds{Estimate: 0.08}}}
	if _, err := db.RecordVerdict(ctx, rec); err != nil {
		t.Fatal(err)
	}
}

// mustIngest ingests events into production through the real pipeline.
func mustIngest(t *testing.T, db *sqlite.DB, events []ingest.Event) {
	t.Helper()
	p := ingest.NewPipeline(db, nil)
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Ingest(context.Background(), "production", events); err != nil {
		t.Fatal(err)
	}
}

// countingEvidence counts the reads of a flag's cells, and notes the
// reads of users that named no flag (every flag of the environment).
type countingEvidence struct {
	*sqlite.DB
	aggregates, users, everyFlag int
	// hypothesis counts the reads of one flag's hypothesis, hypotheses
	// those of many at once.
	hypothesis, hypotheses int
	// split counts the reads of one flag's split history, splits those
	// of an environment's.
	split, splits int
}

func (c *countingEvidence) SplitHistory(ctx context.Context, env, flag string) ([]experiment.SplitPeriod, error) {
	c.split++
	return c.DB.SplitHistory(ctx, env, flag)
}

func (c *countingEvidence) SplitHistories(ctx context.Context, env string) (map[string][]experiment.SplitPeriod, error) {
	c.splits++
	return c.DB.SplitHistories(ctx, env)
}

func (c *countingEvidence) Hypothesis(ctx context.Context, env, flag string) (*experiment.Hypothesis, error) {
	c.hypothesis++
	return c.DB.Hypothesis(ctx, env, flag)
}

func (c *countingEvidence) Hypotheses(ctx context.Context, env string, flags ...string) (map[string]*experiment.Hypothesis, error) {
	c.hypotheses++
	return c.DB.Hypotheses(ctx, env, flags...)
}

func (c *countingEvidence) Aggregates(ctx context.Context, env, flag string) ([]metric.Aggregate, error) {
	c.aggregates++
	return c.DB.Aggregates(ctx, env, flag)
}

func (c *countingEvidence) UserAggregates(ctx context.Context, env string, flags ...string) ([]metric.Aggregate, error) {
	c.users++
	if len(flags) == 0 || slices.Contains(flags, "") {
		c.everyFlag++
	}
	return c.DB.UserAggregates(ctx, env, flags...)
}

// TestSampleRatioReadsUsersOnly: the flag of a verdict is checked for a
// sample ratio mismatch from its users per variant alone, not from every
// metric's cells, and the check answers what the full analysis answers on
// the same data: f1's 3:1 split of a 1:1 hypothesis is a mismatch, f2's
// even split of its flag's 50/50 is none.
func TestSampleRatioReadsUsersOnly(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	ms := []metric.Metric{{Key: "m", Kind: metric.Conversion, Event: "e"}}
	for _, flag := range []string{"f1", "f2"} {
		h := experiment.NewHypothesis()
		h.PrimaryMetric, h.MinimumEffect = "m", 0.05
		if flag == "f1" {
			h.Settings.Weights = map[string]float64{"off": 1, "on": 1}
		}
		if err := h.Normalize(ms, []string{"off", "on"}); err != nil {
			t.Fatal(err)
		}
		mustDecided(t, svc, db, flag, h)
	}
	split := &valueloop.Flag{Key: "f2", State: valueloop.StateEnabled, Variants: map[string]any{"off": false, "on": true}, DefaultVariant: new("off"),
		Targeting: []byte(`{"fractional":[["off",50],["on",50]]}`)}
	svc.Definition = func(env, flag string) *valueloop.Flag {
		if flag == "f2" {
			return split
		}
		return nil
	}
	var events []ingest.Event
	at := time.Now().Add(-time.Hour).UnixMilli()
	for u := range 400 {
		user := fmt.Sprintf("user-%d", u)
		events = append(events,
			ingest.Event{Type: ingest.Exposure, Time: at, TimeSet: true, TargetingKey: user, Flag: "f1", Variant: []string{"off", "off", "off", "on"}[u%4]},
			ingest.Event{Type: ingest.Exposure, Time: at, TimeSet: true, TargetingKey: user, Flag: "f2", Variant: []string{"off", "on"}[u%2]})
		if u%3 == 0 {
			events = append(events, ingest.Event{Type: ingest.Tracking, Name: "e", Time: at + 1, TimeSet: true, TargetingKey: user})
		}
	}
	mustIngest(t, db, events)
	for _, key := range []string{"a-f1", "a-f2"} {
		if _, err := svc.Sync(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	for flag, want := range map[string]bool{"f1": true, "f2": false} {
		full, err := features.Mismatch(svc, ctx, "production", flag, true)
		if err != nil {
			t.Fatal(err)
		}
		users, err := features.Mismatch(svc, ctx, "production", flag, false)
		if err != nil {
			t.Fatal(err)
		}
		if full != want || users != want {
			t.Errorf("%s: mismatch %v by the analysis, %v by the users' check; want %v", flag, full, users, want)
		}
	}
	ev := &countingEvidence{DB: db}
	svc.Evidence = ev
	svc.Forget()
	n, err := svc.Next(ctx, features.NextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b := n.Bets[0]; b.Validated != 1 || b.Mismatched != 1 {
		t.Errorf("bets: %d validated, %d mismatched; want 1, 1", b.Validated, b.Mismatched)
	}
	if ev.aggregates != 0 || ev.users != 2 {
		t.Errorf("next read every cell of %d flags and the users of %d; want none and 2", ev.aggregates, ev.users)
	}
}

// TestSampleRatioBatched: many verdict flags of one environment to check
// are checked from one read of the environment's users' cells, each as
// the full analysis of its own flag answers: 40 flags, every other one
// split 3:1 against a 1:1 hypothesis.
func TestSampleRatioBatched(t *testing.T) {
	svc, db := mustService(t)
	ctx := context.Background()
	const n = 40
	var keys []string
	for i := range n {
		keys = append(keys, fmt.Sprintf("f%02d", i))
	}
	svc.Flags = func(string) []string { return keys }
	h := experiment.NewHypothesis()
	h.PrimaryMetric, h.MinimumEffect = "m", 0.05
	h.Settings.Weights = map[string]float64{"off": 1, "on": 1}
	if err := h.Normalize([]metric.Metric{{Key: "m", Kind: metric.Conversion, Event: "e"}}, []string{"off", "on"}); err != nil {
		t.Fatal(err)
	}
	var events []ingest.Event
	at := time.Now().Add(-time.Hour).UnixMilli()
	for i, flag := range keys {
		mustDecided(t, svc, db, flag, h)
		split := []string{"off", "on"}
		if i%2 == 1 {
			split = []string{"off", "off", "off", "on"}
		}
		for u := range 200 {
			events = append(events, ingest.Event{Type: ingest.Exposure, Time: at, TimeSet: true, TargetingKey: fmt.Sprintf("user-%d", u), Flag: flag, Variant: split[u%len(split)]})
		}
	}
	mustIngest(t, db, events)
	for _, flag := range keys {
		if _, err := svc.Sync(ctx, "a-"+flag); err != nil {
			t.Fatal(err)
		}
	}
	ev := &countingEvidence{DB: db}
	svc.Evidence = ev
	next, err := svc.Next(ctx, features.NextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b := next.Bets[0]; b.Validated != n/2 || b.Mismatched != n/2 {
		t.Errorf("bets: %d validated, %d mismatched; want %d, %d", b.Validated, b.Mismatched, n/2, n/2)
	}
	if ev.aggregates != 0 || ev.users != 1 {
		t.Errorf("next read every cell of %d flags and the users %d times; want none and once", ev.aggregates, ev.users)
	}
	// The one read names the flags checked: one of the whole environment
	// scans every cell of every flag in it (the table's key starts with
	// environment and flag), however few of them are checked.
	if ev.everyFlag != 0 {
		t.Errorf("next read the users of every flag of the environment %d times; want the flags checked only", ev.everyFlag)
	}
	// So are their hypotheses: one read of the environment's flags
	// wanted, not a query per flag.
	if ev.hypothesis != 0 || ev.hypotheses != 1 {
		t.Errorf("next read %d hypotheses one at a time and %d batches; want none and one", ev.hypothesis, ev.hypotheses)
	}
	if ev.split != 0 || ev.splits != 1 {
		t.Errorf("next read %d split histories one at a time and the environment's %d times; want none and once", ev.split, ev.splits)
	}
	for i, flag := range keys {
		full, err := features.Mismatch(svc, ctx, "production", flag, true)
		if err != nil || full != (i%2 == 1) {
			t.Errorf("%s: the analysis says mismatch %v, %v; want %v", flag, full, err, i%2 == 1)
		}
	}
}
