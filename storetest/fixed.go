package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/stats"
)

// FixedDecisionStore keeps the decisions of hypotheses under fixed
// inference taken at the planned sample, and their planned samples. A
// store that implements it runs the FixedDecisions and FixedPlans cases of
// the contract.
type FixedDecisionStore interface {
	Store
	FixedDecision(ctx context.Context, env, flag string) (*experiment.FixedDecision, error)
	DecideFixed(ctx context.Context, d *experiment.FixedDecision) (bool, error)
	FixedPlan(ctx context.Context, env, flag string) (*experiment.FixedPlan, error)
	PlanFixed(ctx context.Context, p *experiment.FixedPlan) (bool, error)
}

// testFixedDecisions: the first decision stands against any later one
// with the same terms, a decision under other terms replaces it, times
// come from the store's clock, the verdict (per treatment, with its
// bounds) comes back as stored, bad input changes nothing, and each
// decision stored is audited.
func testFixedDecisions(t *testing.T, st Store, clock *Clock) {
	s := kept[FixedDecisionStore](t, st, "the store keeps no fixed decisions")
	ctx := context.Background()
	for _, env := range []string{"prod", "dev"} {
		if err := s.CreateEnvironment(ctx, valueloop.Environment{Key: env, Name: env}, "t"); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.FixedDecision(ctx, "prod", "checkout"); got != nil || err != nil {
		t.Errorf("FixedDecision before any = %+v, %v; want nil, nil", got, err)
	}
	zero := int64(0)
	decision := func(terms string, d experiment.Decision, users int64) experiment.FixedDecision {
		return experiment.FixedDecision{Environment: "prod", Flag: "checkout", Terms: terms, Users: users,
			Verdict: experiment.Verdict{Decision: d, Code: "code-" + string(d), Reason: "because " + string(d), Variant: "treatment",
				Variants: []experiment.VariantVerdict{{Variant: "treatment", Decision: d, Code: "code-" + string(d), Reason: "because " + string(d), RemainingUsers: &zero,
					Effect: &experiment.Bounds{Estimate: 0.012, Lower: -0.003, Upper: 0.0271, Level: 0.95}}}}}
	}
	decide := func(d experiment.FixedDecision) (experiment.FixedDecision, bool) {
		t.Helper()
		ok, err := s.DecideFixed(ctx, &d)
		if err != nil {
			t.Fatalf("DecideFixed(%s, %s): %v", d.Terms, d.Verdict.Decision, err)
		}
		return d, ok
	}
	same := func(what string, got *experiment.FixedDecision, want experiment.FixedDecision) {
		t.Helper()
		sameStored(t, what, got, want, func(x *experiment.FixedDecision) *time.Time { return &x.At })
	}

	start := clock.T
	first, ok := decide(decision("terms-a", experiment.Inconclusive, 4000))
	if !ok || !first.At.Equal(start) {
		t.Errorf("first decision: stored %v at %v, want true at %v", ok, first.At, start)
	}
	clock.T = clock.T.Add(time.Hour)
	later, ok := decide(decision("terms-a", experiment.Validated, 6000))
	if ok {
		t.Errorf("a later decision with the same terms was stored")
	}
	same("a later decision with the same terms becomes", &later, first)
	got, err := s.FixedDecision(ctx, "prod", "checkout")
	if err != nil {
		t.Fatal(err)
	}
	same("stored", got, first)

	clock.T = clock.T.Add(time.Hour)
	changed, ok := decide(decision("terms-b", experiment.Invalidated, 7000))
	if !ok || !changed.At.Equal(clock.T) {
		t.Errorf("a decision under other terms: stored %v at %v, want true at %v", ok, changed.At, clock.T)
	}
	got, _ = s.FixedDecision(ctx, "prod", "checkout")
	same("after the terms changed", got, changed)
	if other, err := s.FixedDecision(ctx, "dev", "checkout"); other != nil || err != nil {
		t.Errorf("another environment: %+v, %v; want none", other, err)
	}

	// Bad input changes nothing.
	bad := []struct {
		d     experiment.FixedDecision
		field string
		code  string
	}{
		{decision("terms-c", experiment.KeepRunning, 10), "verdict.decision", valueloop.EINVALID},
		{decision("", experiment.Validated, 10), "terms", valueloop.EINVALID},
		{experiment.FixedDecision{Environment: "prod", Terms: "terms-c", Verdict: experiment.Verdict{Decision: experiment.Validated}}, "flag", valueloop.EINVALID},
		{experiment.FixedDecision{Environment: "nowhere", Flag: "checkout", Terms: "terms-c", Verdict: experiment.Verdict{Decision: experiment.Validated}}, "", valueloop.ENOTFOUND},
	}
	for _, b := range bad {
		ok, err := s.DecideFixed(ctx, &b.d)
		refused(t, fmt.Sprintf("DecideFixed(%+v)", b.d), ok, err, b.code, b.field)
	}
	got, _ = s.FixedDecision(ctx, "prod", "checkout")
	same("after bad input", got, changed)

	// One audit entry per decision stored; the replacing one has the
	// replaced decision as before.
	replacedOnce(t, s, "experiment.fixed_decision")
}

// testFixedPlans: the first plan stands against any later one with the
// same terms (another estimate of the spread), a plan under other terms
// replaces it, times come from the store's clock, the planned sample per
// treatment comes back as stored, bad input changes nothing, and each plan
// stored is audited.
func testFixedPlans(t *testing.T, st Store, clock *Clock) {
	s := kept[FixedDecisionStore](t, st, "the store keeps no fixed plans")
	ctx := context.Background()
	if err := s.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FixedPlan(ctx, "prod", "checkout"); got != nil || err != nil {
		t.Errorf("FixedPlan before any = %+v, %v; want nil, nil", got, err)
	}
	// The inputs of each treatment: a spread the planned users fit; the
	// log ratio's choice (nonNegative, sequentialTuning, analysisAlpha)
	// read back as stored.
	inputsOf := func(users map[string]int64) map[string]experiment.PlanInputs {
		in := map[string]experiment.PlanInputs{}
		for v, n := range users {
			in[v] = experiment.PlanInputs{Plan: stats.Plan{Alpha: 0.025, Alternative: stats.TwoSided, Power: 0.8, SD: 0.4, TreatmentSD: 0.41, Baseline: 0.2, Relative: true,
				NonNegative: true, SequentialTuning: 5000, AnalysisAlpha: 0.05}, Effect: 0.1 * float64(n) / 1000}
		}
		return in
	}
	plan := func(terms string, users map[string]int64, on int64) experiment.FixedPlan {
		return experiment.FixedPlan{Environment: "prod", Flag: "checkout", Terms: terms, Users: users, Inputs: inputsOf(users), FixedOn: on}
	}
	withInputs := func(p experiment.FixedPlan, in map[string]experiment.PlanInputs) experiment.FixedPlan {
		p.Inputs = in
		return p
	}
	fix := func(p experiment.FixedPlan) (experiment.FixedPlan, bool) {
		t.Helper()
		ok, err := s.PlanFixed(ctx, &p)
		if err != nil {
			t.Fatalf("PlanFixed(%s, %v): %v", p.Terms, p.Users, err)
		}
		return p, ok
	}
	same := func(what string, got *experiment.FixedPlan, want experiment.FixedPlan) {
		t.Helper()
		sameStored(t, what, got, want, func(x *experiment.FixedPlan) *time.Time { return &x.At })
	}

	start := clock.T
	first, ok := fix(plan("terms-a", map[string]int64{"b": 1800, "c": 2400}, 40))
	if !ok || !first.At.Equal(start) {
		t.Errorf("first plan: stored %v at %v, want true at %v", ok, first.At, start)
	}
	clock.T = clock.T.Add(time.Hour)
	later, ok := fix(plan("terms-a", map[string]int64{"b": 3000, "c": 2600}, 900))
	if ok {
		t.Errorf("a later plan with the same terms was stored")
	}
	same("a later plan with the same terms becomes", &later, first)
	got, err := s.FixedPlan(ctx, "prod", "checkout")
	if err != nil {
		t.Fatal(err)
	}
	same("stored", got, first)
	if got.Planned() != 2400 {
		t.Errorf("planned sample %d, want 2400 (the largest treatment's)", got.Planned())
	}

	clock.T = clock.T.Add(time.Hour)
	changed, ok := fix(plan("terms-b", map[string]int64{"b": 5000}, 1000))
	if !ok || !changed.At.Equal(clock.T) {
		t.Errorf("a plan under other terms: stored %v at %v, want true at %v", ok, changed.At, clock.T)
	}
	got, _ = s.FixedPlan(ctx, "prod", "checkout")
	same("after the terms changed", got, changed)

	bad := []struct {
		p     experiment.FixedPlan
		field string
		code  string
	}{
		{plan("terms-c", nil, 10), "users", valueloop.EINVALID},
		{plan("terms-c", map[string]int64{"b": 0}, 10), "users", valueloop.EINVALID},
		{plan("terms-c", map[string]int64{"b": 10}, -1), "fixedOn", valueloop.EINVALID},
		{withInputs(plan("terms-c", map[string]int64{"b": 10}, 10), nil), "inputs", valueloop.EINVALID},
		{withInputs(plan("terms-c", map[string]int64{"b": 10}, 10), map[string]experiment.PlanInputs{"b": {Plan: stats.Plan{Alpha: 0.05, Power: 0.8, SD: 1, Alternative: stats.TwoSided}}}), "inputs", valueloop.EINVALID},
		{withInputs(plan("terms-c", map[string]int64{"b": 10}, 10), inputsOf(map[string]int64{"b": 10, "c": 10})), "inputs", valueloop.EINVALID},
		{plan("", map[string]int64{"b": 10}, 10), "terms", valueloop.EINVALID},
		{experiment.FixedPlan{Environment: "prod", Terms: "terms-c", Users: map[string]int64{"b": 10}, Inputs: inputsOf(map[string]int64{"b": 10})}, "flag", valueloop.EINVALID},
		{experiment.FixedPlan{Environment: "nowhere", Flag: "checkout", Terms: "terms-c", Users: map[string]int64{"b": 10}, Inputs: inputsOf(map[string]int64{"b": 10})}, "", valueloop.ENOTFOUND},
	}
	for _, b := range bad {
		ok, err := s.PlanFixed(ctx, &b.p)
		refused(t, fmt.Sprintf("PlanFixed(%+v)", b.p), ok, err, b.code, b.field)
	}
	got, _ = s.FixedPlan(ctx, "prod", "checkout")
	same("after bad input", got, changed)

	replacedOnce(t, s, "experiment.fixed_plan")
}

// replacedOnce checks the audit of prod's checkout: two entries of action,
// the newest with the replaced one as before, the oldest without.
func replacedOnce(t *testing.T, s FixedDecisionStore, action string) {
	t.Helper()
	entries, err := s.Audit(context.Background(), valueloop.AuditFilter{Environment: "prod", Target: "checkout"})
	if err != nil || len(entries) != 2 {
		t.Fatalf("audit: %d entries, %v; want 2", len(entries), err)
	}
	for _, e := range entries {
		if e.Action != action {
			t.Errorf("audit action %q, want %s", e.Action, action)
		}
	}
	if entries[0].Before == nil || entries[1].Before != nil {
		t.Errorf("audit: newest before %s, oldest before %s; want the replaced one, then none", entries[0].Before, entries[1].Before)
	}
}

// sameStored fails unless got is want, its time (at) compared as a time:
// the store may give it back in another location.
func sameStored[T any](t *testing.T, what string, got *T, want T, at func(*T) *time.Time) {
	t.Helper()
	if got == nil || !at(got).Equal(*at(&want)) {
		t.Fatalf("%s: %+v, want at %v", what, got, *at(&want))
	}
	c := *got
	*at(&c) = *at(&want)
	if !reflect.DeepEqual(c, want) {
		t.Errorf("%s:\n%+v\nwant\n%+v", what, c, want)
	}
}
