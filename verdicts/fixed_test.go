package verdicts_test

import (
	"context"
	"testing"
	"time"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/verdicts"
)

// look analyses flag with its hypothesis' own settings over aggs and has
// the recorder record it, as the results route does; it returns the result
// as the route serves it.
func look(t *testing.T, s *store, rec *verdicts.Recorder, flag string, aggs []metric.Aggregate) *experiment.Result {
	t.Helper()
	s.setAggregates("prod", flag, aggs)
	res := analyze(t, s, rec, flag)
	if _, err := rec.Record(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	return res
}

// analyze analyses flag's stored aggregates with its hypothesis' settings.
func analyze(t *testing.T, s *store, rec *verdicts.Recorder, flag string) *experiment.Result {
	t.Helper()
	ctx := context.Background()
	in := experiment.Input{Environment: "prod", Flag: flag, Definition: rec.Definition("prod", flag)}
	if err := experiment.ReadHypothesis(ctx, s, &in); err != nil {
		t.Fatal(err)
	}
	res, err := experiment.ReadAnalysis(ctx, s, &in)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// putFixed gives flag a hypothesis under fixed inference: signup up by at
// least minEffect (relative), 80% power, α = 0.05.
func putFixed(t *testing.T, s *store, flag, statement string, minEffect float64) {
	t.Helper()
	h := experiment.NewHypothesis()
	h.Statement, h.PrimaryMetric, h.MinimumEffect = statement, "signup", minEffect
	h.Settings.Inference = experiment.Fixed
	if err := s.PutHypothesis(context.Background(), "prod", flag, h, "alice"); err != nil {
		t.Fatal(err)
	}
}

// TestFixedDecisionStands: under fixed inference the verdict at the first
// look that reaches the planned sample is stored, and a later look with
// four times the users, all without any effect, cannot change it, though
// those users re-tested alone would invalidate the hypothesis. The served
// verdict says when it was decided and on how many users, and keeps the
// re-test as descriptive; the verdict history records no invalidation.
func TestFixedDecisionStands(t *testing.T) {
	ctx := context.Background()
	s, rec, clock := setup(t)
	putFixed(t, s, "fixed", "a bigger button sells", 0.3)

	if r := look(t, s, rec, "fixed", aggregates(t, "fixed", 600, 0.2, 0.25)); r.Verdict.Decision != experiment.KeepRunning {
		t.Fatalf("before the planned sample: %s (%s), want keep_running", r.Verdict.Decision, r.Verdict.Reason)
	}
	if d, err := s.FixedDecision(ctx, "prod", "fixed"); d != nil || err != nil {
		t.Fatalf("a decision stored before the planned sample: %+v, %v", d, err)
	}
	clock.T = clock.T.Add(time.Hour)
	decidedAt := clock.T
	at := look(t, s, rec, "fixed", aggregates(t, "fixed", 2000, 0.2, 0.25))
	if v := at.Verdict; v.Decision != experiment.Inconclusive {
		t.Fatalf("at the planned sample: %s (%s); want inconclusive", v.Decision, v.Reason)
	}
	if d := at.Verdict.Decided; d == nil || d.Users != 2000 || !d.At.Equal(decidedAt) {
		t.Errorf("at the planned sample: decided %+v; want at %v on 2000 users", d, decidedAt)
	}

	clock.T = clock.T.Add(time.Hour)
	later := look(t, s, rec, "fixed", aggregates(t, "fixed", 8000, 0.2, 0.2))
	v := later.Verdict
	if v.Decision != experiment.Inconclusive || v.Reason != at.Verdict.Reason || v.Decided == nil || v.Decided.Users != 2000 || !v.Decided.At.Equal(decidedAt) {
		t.Errorf("a later look with null data: %s (%s), decided %+v; want the decision at the planned sample, inconclusive on 2000 users at %v", v.Decision, v.Reason, v.Decided, decidedAt)
	}
	if v.Decided == nil || v.Decided.Current == nil || v.Decided.Current.Decision != experiment.Invalidated {
		t.Errorf("the look's own re-test is not kept as descriptive (want invalidated, which the stored decision overrules): %+v", v.Decided)
	}
	if h, _ := rec.History(ctx, "prod", "fixed"); len(h) != 0 {
		t.Errorf("history %+v, want none: the decision at the planned sample was inconclusive", h)
	}
	if n, err := rec.Check(ctx); err != nil || n != 0 {
		t.Errorf("the periodic check recorded %d (%v), want 0: it reads the stored decision too", n, err)
	}
}

// TestFixedDecisionTerms: a change of the hypothesis that makes another
// test (its minimum effect) has the next look decide anew; one that does
// not (its statement) leaves the decision standing; the dashboard's
// Settle applies the decision without storing one.
func TestFixedDecisionTerms(t *testing.T) {
	ctx := context.Background()
	s, rec, clock := setup(t)
	putFixed(t, s, "fixed", "a bigger button sells", 0.3)
	look(t, s, rec, "fixed", aggregates(t, "fixed", 2000, 0.2, 0.25))
	clock.T = clock.T.Add(time.Hour)

	putFixed(t, s, "fixed", "a bigger, greener button sells", 0.3)
	if v := look(t, s, rec, "fixed", aggregates(t, "fixed", 8000, 0.2, 0.2)).Verdict; v.Decided == nil || v.Decided.Users != 2000 {
		t.Errorf("after a new statement: %s, decided %+v; want the decision on 2000 users", v.Decision, v.Decided)
	}
	putFixed(t, s, "fixed", "a bigger, greener button sells", 0.25)
	v := look(t, s, rec, "fixed", aggregates(t, "fixed", 8000, 0.2, 0.2)).Verdict
	if v.Decision != experiment.Invalidated || v.Decided == nil || v.Decided.Users != 8000 || !v.Decided.At.Equal(clock.T) {
		t.Errorf("after a new minimum effect: %s (%s), decided %+v; want invalidated, decided anew on 8000 users at %v", v.Decision, v.Reason, v.Decided, clock.T)
	}
	if h, _ := rec.History(ctx, "prod", "fixed"); len(h) != 1 || h[0].Decision != experiment.Invalidated || h[0].Figures.Users != 8000 {
		t.Errorf("history %+v, want one invalidated on 8000 users", h)
	}

	// Settle, as the dashboard calls it, stores nothing.
	putFixed(t, s, "other", "", 0.3)
	s.setAggregates("prod", "other", aggregates(t, "other", 2000, 0.2, 0.24))
	res := analyze(t, s, rec, "other")
	if err := rec.Settle(ctx, res); err != nil || res.Verdict.Decided != nil {
		t.Errorf("Settle without a stored decision: %v, decided %+v; want nothing applied", err, res.Verdict.Decided)
	}
	if d, _ := s.FixedDecision(ctx, "prod", "other"); d != nil {
		t.Errorf("Settle stored a decision: %+v", d)
	}
}
