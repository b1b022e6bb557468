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

// TestFixedPlanStands: the planned sample is fixed at the first look that
// can compute it, and decides which look is at the planned sample however
// the observed spread moves later. The first look (400 users converting
// at 30%) plans fewer users than the later looks' spread (20% against 25%)
// would: judged on each look's own estimate, the look at 1,200 users
// would still keep running and a later one decide; on the plan fixed at
// the first look, it decides.
func TestFixedPlanStands(t *testing.T) {
	ctx := context.Background()
	s, rec, clock := setup(t)
	putFixed(t, s, "fixed", "a bigger button sells", 0.3)
	fixedAt := clock.T
	first := look(t, s, rec, "fixed", aggregates(t, "fixed", 400, 0.3, 0.3))

	// The look at 1,200 users judged on its own estimate keeps running;
	// on the plan fixed at the first look, it decides.
	clock.T = clock.T.Add(time.Hour)
	s.setAggregates("prod", "fixed", aggregates(t, "fixed", 1200, 0.2, 0.25))
	own := analyze(t, s, rec, "fixed")
	if v := own.Verdict; v.Decision != experiment.KeepRunning || v.Variants[0].PlannedUsers == nil || *v.Variants[0].PlannedUsers <= 1200 {
		t.Fatalf("the look at 1,200 users on its own estimate: %s, planned %v (%s); want keep_running, planned beyond 1,200", v.Decision, v.Variants[0].PlannedUsers, v.Reason)
	}
	at := look(t, s, rec, "fixed", aggregates(t, "fixed", 1200, 0.2, 0.25))
	if v := at.Verdict; v.Decided == nil || v.Decided.Users != 1200 || v.Decision == experiment.KeepRunning {
		t.Errorf("the look at 1,200 users on the fixed plan: %s (%s), decided %+v; want decided on 1,200 users", v.Decision, v.Reason, v.Decided)
	}

	p, err := s.FixedPlan(ctx, "prod", "fixed")
	if err != nil || p == nil {
		t.Fatalf("no plan stored at the first look that computes one: %+v, %v (verdict %s: %s)", p, err, first.Verdict.Decision, first.Verdict.Reason)
	}
	if p.FixedOn != 400 || !p.At.Equal(fixedAt) || len(p.Users) != 1 || p.Users["treatment"] > 1200 {
		t.Fatalf("plan %+v; want fixed on 400 users at %v, treatment's planned sample at most 1,200", p, fixedAt)
	}
	if first.Plan == nil || first.Plan.Planned() != p.Planned() || first.Verdict.Decision != experiment.KeepRunning ||
		*first.Verdict.RemainingUsers != p.Planned()-400 {
		t.Errorf("first look: plan %+v, %s, remaining %v; want the stored plan, keep_running, %d remaining", first.Plan, first.Verdict.Decision, first.Verdict.RemainingUsers, p.Planned()-400)
	}
	if at.Plan == nil || at.Plan.Planned() != p.Planned() || !at.Plan.At.Equal(p.At) {
		t.Errorf("the decided look's plan %+v, want the stored %+v", at.Plan, p)
	}

	// Settle (the dashboard, the value loop) applies a stored plan and
	// stores none.
	putFixed(t, s, "other", "", 0.3)
	s.setAggregates("prod", "other", aggregates(t, "other", 400, 0.3, 0.3))
	res := analyze(t, s, rec, "other")
	if err := rec.Settle(ctx, res); err != nil || res.Plan != nil {
		t.Errorf("Settle without a stored plan: %v, plan %+v; want none", err, res.Plan)
	}
	if p, _ := s.FixedPlan(ctx, "prod", "other"); p != nil {
		t.Errorf("Settle stored a plan: %+v", p)
	}
	res = analyze(t, s, rec, "fixed")
	if err := rec.Settle(ctx, res); err != nil || res.Plan == nil || res.Verdict.Decided == nil {
		t.Errorf("Settle with a stored plan and decision: %v, plan %+v, decided %+v", err, res.Plan, res.Verdict.Decided)
	}

	// A decision stored without a plan (before plans were stored) stands,
	// and no plan is fixed after it.
	putFixed(t, s, "old", "", 0.3)
	s.setAggregates("prod", "old", aggregates(t, "old", 2000, 0.2, 0.25))
	d, ok := experiment.NewFixedDecision(analyze(t, s, rec, "old"))
	if !ok {
		t.Fatal("no decision at the planned sample")
	}
	if _, err := s.DecideFixed(ctx, &d); err != nil {
		t.Fatal(err)
	}
	if v := look(t, s, rec, "old", aggregates(t, "old", 8000, 0.2, 0.2)).Verdict; v.Decided == nil || v.Decided.Users != 2000 {
		t.Errorf("a decision stored without a plan: %s, decided %+v; want it standing", v.Decision, v.Decided)
	}
	if p, _ := s.FixedPlan(ctx, "prod", "old"); p != nil {
		t.Errorf("a plan fixed after the decision: %+v", p)
	}
}

// TestFixedDecisionMetricRedefined: the primary metric made again under its
// key with a name only keeps the decision; with a window it is another
// measurement, a new test, which the next look judges on its own. The terms named the metric
// by key only, and the decision on the metric without a window stood.
func TestFixedDecisionMetricRedefined(t *testing.T) {
	ctx := context.Background()
	s, rec, clock := setup(t)
	putFixed(t, s, "fixed", "a bigger button sells", 0.3)
	look(t, s, rec, "fixed", aggregates(t, "fixed", 2000, 0.2, 0.25))
	redefine := func(m metric.Metric) {
		t.Helper()
		if err := s.DeleteMetric(ctx, "prod", "signup", "bob"); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateMetric(ctx, "prod", &m, "bob"); err != nil {
			t.Fatal(err)
		}
	}
	clock.T = clock.T.Add(time.Hour)
	named := signup
	named.Name, named.Description = "Sign-ups", "users who signed up"
	redefine(named)
	if v := look(t, s, rec, "fixed", aggregates(t, "fixed", 8000, 0.2, 0.2)).Verdict; v.Decided == nil || v.Decided.Users != 2000 {
		t.Errorf("after a new name: %s, decided %+v; want the decision on 2000 users", v.Decision, v.Decided)
	}
	windowed := named
	windowed.Window = metric.Window(7 * 24 * time.Hour)
	redefine(windowed)
	// A windowed metric is read by day of first exposure, which this
	// test's store does not keep: the new test has no figures yet, and
	// the decision taken without a window must not stand in for them.
	v := look(t, s, rec, "fixed", aggregates(t, "fixed", 8000, 0.2, 0.2)).Verdict
	if v.Decided != nil || v.Decision != experiment.KeepRunning {
		t.Errorf("after a window: %s (%s), decided %+v; want a new test, keep_running, not the decision on 2000 users", v.Decision, v.Reason, v.Decided)
	}
}
