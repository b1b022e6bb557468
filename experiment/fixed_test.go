package experiment

import (
	"testing"
	"time"

	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// fixedResult is a result under fixed inference with verdict v.
func fixedResult(v Verdict) *Result {
	h := &Hypothesis{PrimaryMetric: "signup", Direction: Increase, MinimumEffect: 0.1, Power: 0.8, Settings: DefaultSettings()}
	h.Settings.Inference = Fixed
	h.Settings.Control = "c"
	return &Result{Environment: "prod", Flag: "f", Settings: h.Settings, Hypothesis: h, Users: 5000, Verdict: &v,
		Variants: []Variant{{Name: "c", Control: true}, {Name: "t"}}}
}

// TestFixedTerms: the terms change with what decides the test and its
// planned sample, and not with the statement, the prior or the sequential
// tuning.
func TestFixedTerms(t *testing.T) {
	base := fixedResult(Verdict{}).Hypothesis
	same := []func(h *Hypothesis){
		func(h *Hypothesis) { h.Statement = "something else" },
		func(h *Hypothesis) { h.Settings.Prior = &stats.Prior{Mean: 0, SD: 0.3} },
		func(h *Hypothesis) { h.Settings.SequentialTuning = 5000 },
		func(h *Hypothesis) { h.Version, h.UpdatedBy = 7, "bob" },
	}
	other := []func(h *Hypothesis){
		func(h *Hypothesis) { h.MinimumEffect = 0.05 },
		func(h *Hypothesis) { h.Power = 0.9 },
		func(h *Hypothesis) { h.Settings.Alpha = 0.1 },
		func(h *Hypothesis) { h.Settings.CUPED = !h.Settings.CUPED },
		func(h *Hypothesis) { h.Settings.Weights = map[string]float64{"control": 1, "treatment": 2} },
		func(h *Hypothesis) { h.Guardrails = []Guardrail{{Metric: "tickets", Tolerance: 0.01}} },
		func(h *Hypothesis) { h.PrimaryMetric = "revenue" },
		func(h *Hypothesis) { h.Settings.ExcludeOpenWindows = true },
	}
	for i, change := range append(same, other...) {
		c := *base
		change(&c)
		if got, want := termsOf(&Result{Hypothesis: &c}) == termsOf(&Result{Hypothesis: base}), i < len(same); got != want {
			t.Errorf("change %d: terms unchanged %v, want %v", i, got, want)
		}
	}
}

// TestNewFixedDecision: a decision is taken by a verdict under fixed
// inference at the planned sample, not by one still running, one under
// sequential inference, one invalidated only by a breached guardrail (at
// any look), nor one that is already a stored decision; Apply makes it the
// verdict only under the terms it was taken under.
func TestNewFixedDecision(t *testing.T) {
	at := Verdict{Decision: Inconclusive, Code: CodePlannedSampleReached, Variants: []VariantVerdict{{Variant: "t", Decision: Inconclusive, Code: CodePlannedSampleReached}}}
	breached := Verdict{Decision: Invalidated, Code: CodeGuardrailBreached, Variants: []VariantVerdict{{Variant: "t", Decision: Invalidated, Code: CodeGuardrailBreached}}}
	sequential := fixedResult(at)
	sequential.Settings.Inference = Sequential
	decided := fixedResult(at)
	decided.Verdict.Decided = &Decided{Users: 1}
	// One treatment validated at its planned sample, the other short of
	// its own: the hypothesis' test has not reached its planned sample.
	oneShort := Verdict{Decision: Validated, Code: CodeWorthShipping, Variant: "a", Variants: []VariantVerdict{
		{Variant: "a", Decision: Validated, Code: CodeWorthShipping}, {Variant: "b", Decision: KeepRunning, Code: CodeNeedMoreUsers}}}
	for name, res := range map[string]*Result{
		"keep running": fixedResult(Verdict{Decision: KeepRunning}), "sequential": sequential,
		"breached guardrail": fixedResult(breached), "already decided": decided,
		"a treatment short of its planned sample": fixedResult(oneShort),
	} {
		if d, ok := NewFixedDecision(res); ok {
			t.Errorf("%s: decision %+v, want none", name, d)
		}
	}
	d, ok := NewFixedDecision(fixedResult(at))
	if !ok || d.Users != 5000 || d.Verdict.Decision != Inconclusive {
		t.Fatalf("at the planned sample: %+v %v, want inconclusive on 5000 users", d, ok)
	}
	d.At = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

	later := fixedResult(Verdict{Decision: Invalidated, Code: CodeBelowMinimum})
	later.Users = 20000
	if !d.Apply(later) || later.Verdict.Decision != Inconclusive || later.Verdict.Decided.Users != 5000 ||
		!later.Verdict.Decided.At.Equal(d.At) || later.Verdict.Decided.Current.Decision != Invalidated {
		t.Errorf("Apply to a later look: %+v", later.Verdict)
	}
	if rec, ok := RecordOf(later); ok {
		t.Errorf("RecordOf(inconclusive decision) = %+v, want none", rec)
	}
	changed := fixedResult(Verdict{Decision: Invalidated})
	changed.Hypothesis.MinimumEffect = 0.2
	if d.Apply(changed) || changed.Verdict.Decision != Invalidated || changed.Verdict.Decided != nil {
		t.Errorf("Apply under other terms changed the verdict: %+v", changed.Verdict)
	}
	// The arms compared are terms too, resolved: with control and weights
	// unset, a flag that gained a variant, or whose default variant (the
	// control) changed, is another test; the old decision never judged
	// the new arm. The order the treatments come in is not.
	for name, arms := range map[string][]Variant{
		"a variant gained":        {{Name: "c", Control: true}, {Name: "t"}, {Name: "u"}},
		"another default variant": {{Name: "t", Control: true}, {Name: "c"}},
	} {
		other := fixedResult(Verdict{Decision: Invalidated})
		other.Variants, other.Settings.Control = arms, arms[0].Name
		if d.Apply(other) {
			t.Errorf("%s: the decision on c and t applied to %v", name, arms)
		}
	}
	two, _ := NewFixedDecision(fixedResult(at))
	reordered := fixedResult(Verdict{Decision: Invalidated})
	reordered.Variants = []Variant{{Name: "c", Control: true}, {Name: "u"}, {Name: "t"}}
	two.Terms = termsOf(&Result{Hypothesis: reordered.Hypothesis, Settings: reordered.Settings, Variants: []Variant{{Name: "c"}, {Name: "t"}, {Name: "u"}}})
	if !two.Apply(reordered) {
		t.Errorf("treatments in another order: the decision did not apply")
	}
}

// TestFixedPlan: a look under fixed inference fixes a plan when every
// treatment's planned sample can be computed, and not under sequential
// inference, with a plan applied or a decision settled already, or while
// a treatment has none; Apply judges the look on the plan, not on its own
// estimate: at the plan's users it is no longer keep_running, short of
// them it needs the plan's remaining users; it does not apply under other
// terms.
func TestFixedPlan(t *testing.T) {
	ms := testMetrics()
	aggs := simulate(t, 3, "onboarding", ms, []arm{{name: "control", users: 500, signup: 0.2}, {name: "treatment", users: 500, signup: 0.22}})
	analyze := func(inf Inference) *Result {
		t.Helper()
		h := NewHypothesis()
		h.PrimaryMetric, h.MinimumEffect = "signup", 0.3
		h.Settings.Inference = inf
		res, err := Analyze(Input{Environment: "prod", Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: aggs, Hypothesis: h, Settings: h.Settings})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := analyze(Fixed)
	p, ok := NewFixedPlan(res)
	if !ok || p.FixedOn != 1000 || p.Users["treatment"] != *res.Verdict.Variants[0].PlannedUsers || p.Users["treatment"] <= 1000 {
		t.Fatalf("plan %+v %v; want fixed on 1,000 users, the treatment's estimate beyond them (verdict %s)", p, ok, res.Verdict.Reason)
	}
	noPlan := analyze(Fixed)
	noPlan.Verdict.Variants[0].PlannedUsers = nil
	decided := analyze(Fixed)
	decided.Verdict.Decided = &Decided{Users: 1}
	planned := analyze(Fixed)
	planned.Plan = &p
	// A pilot too small: fewer than PilotUsers, or less than a tenth of
	// what it plans (one conversion among the first users plans for a
	// rate far from the metric's). Both failed before the pilot rule.
	smallAggs := simulate(t, 3, "onboarding", ms, []arm{{name: "control", users: 60, signup: 0.2}, {name: "treatment", users: 60, signup: 0.22}})
	small := analyze(Fixed)
	if small, err := Analyze(Input{Environment: "prod", Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: smallAggs, Hypothesis: small.Hypothesis, Settings: small.Settings}); err != nil {
		t.Fatal(err)
	} else if vv := small.Verdict.Variants[0]; vv.PlannedUsers == nil || small.Users >= PilotUsers {
		t.Fatalf("the small pilot: %d users, planned %v; want a planned sample computed on fewer than %d users", small.Users, vv.PlannedUsers, PilotUsers)
	} else if got, ok := NewFixedPlan(small); ok {
		t.Errorf("a plan fixed on %d users: %+v, want none below %d", small.Users, got, PilotUsers)
	}
	// Nor is any look before the pilot at the planned sample: a test of
	// a large effect planned fewer than 150 users, and decided there before.
	bigAggs := simulate(t, 3, "onboarding", ms, []arm{{name: "control", users: 75, signup: 0.2}, {name: "treatment", users: 75, signup: 0.6}})
	bigH := *small.Hypothesis
	bigH.MinimumEffect = 2 // +200%: a few dozen users would do
	big, err := Analyze(Input{Environment: "prod", Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: bigAggs, Hypothesis: &bigH, Settings: bigH.Settings})
	if err != nil {
		t.Fatal(err)
	}
	if vv := big.Verdict.Variants[0]; vv.RemainingUsers == nil || *vv.RemainingUsers != PilotUsers-big.Users || vv.Decision != KeepRunning {
		t.Errorf("a look at %d users of a large effect: %s (%s); want keep_running until the %d of the pilot", big.Users, vv.Decision, vv.Reason, PilotUsers)
	}
	tenth := analyze(Fixed)
	*tenth.Verdict.Variants[0].PlannedUsers = 10*tenth.Users + 1
	for name, r := range map[string]*Result{"sequential": analyze(Sequential), "no planned sample yet": noPlan, "decided": decided, "planned already": planned, "under a tenth of the plan": tenth} {
		if got, ok := NewFixedPlan(r); ok {
			t.Errorf("%s: plan %+v, want none", name, got)
		}
	}

	// The plan's precision, not this look's spread, says whether a look
	// is at the planned sample: an effect twice the size needs about a
	// quarter of the users, one half the size about four times as many —
	// less, as the relative effect's variance weighs the control arm by
	// (1 + δ)² at the alternative: 1.15² rather than 1.3².
	scaled := func(k float64) FixedPlan {
		q := p
		in := p.Inputs["treatment"]
		in.Effect *= k
		q.Inputs = map[string]PlanInputs{"treatment": in}
		return q
	}
	reached := scaled(2)
	if r := analyze(Fixed); !reached.Apply(r) || r.Plan == nil || r.Verdict.Decision == KeepRunning || *r.Verdict.Variants[0].PlannedUsers != 1000 {
		t.Errorf("a plan of about %d users on a look at 1,000: %s (%s), want decided at the planned sample", p.Users["treatment"]/4, r.Verdict.Decision, r.Verdict.Reason)
	}
	far := scaled(0.5)
	in := p.Inputs["treatment"]
	vc, vt := in.SD*in.SD, in.TreatmentSD*in.TreatmentSD
	want := int64(float64(p.Users["treatment"]) * 4 * (1.15*1.15*vc + vt) / (1.3*1.3*vc + vt))
	if r := analyze(Fixed); !far.Apply(r) || r.Verdict.Decision != KeepRunning || *r.Verdict.RemainingUsers != r.Plan.Planned()-1000 ||
		r.Plan.Planned() < want-20 || r.Plan.Planned() > want+20 {
		t.Errorf("a plan of about %d users on a look at 1,000: %s, remaining %d, planned %d; want keep_running, the rest of 4·(1.15²σc² + σt²)/(1.3²σc² + σt²) times %d remaining",
			want, r.Verdict.Decision, *r.Verdict.RemainingUsers, r.Plan.Planned(), p.Users["treatment"])
	}
	other := analyze(Fixed)
	other.Hypothesis.MinimumEffect = 0.2
	before := *other.Verdict
	if far.Apply(other) || other.Plan != nil || other.Verdict.Decision != before.Decision {
		t.Errorf("a plan applied under other terms: %+v", other.Plan)
	}
	if r := analyze(Sequential); far.Apply(r) {
		t.Errorf("a plan applied under sequential inference")
	}
}

// TestFixedTermsMetricDefinitions: the terms change with the definition of
// the primary metric or a guardrail under the same key (what it measures:
// event, window, aggregate, kind, direction, cap), not with its name or
// description nor with a metric the hypothesis does not name. Named by key
// only, a metric redefined kept a decision taken on another measurement.
func TestFixedTermsMetricDefinitions(t *testing.T) {
	aggs := simulate(t, 3, "onboarding", testMetrics(), []arm{{name: "control", users: 500, signup: 0.2}, {name: "treatment", users: 500, signup: 0.22}})
	terms := func(change func(ms []metric.Metric)) string {
		t.Helper()
		ms := testMetrics()
		change(ms)
		h := NewHypothesis()
		h.PrimaryMetric, h.MinimumEffect = "signup", 0.3
		h.Guardrails = []Guardrail{{Metric: "tickets", Tolerance: 0.05}}
		h.Settings.Inference = Fixed
		res, err := Analyze(Input{Environment: "prod", Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: aggs, Hypothesis: h, Settings: h.Settings})
		if err != nil {
			t.Fatal(err)
		}
		return termsOf(res)
	}
	base := terms(func([]metric.Metric) {})
	limit := 3.0
	for _, c := range []struct {
		name   string
		change func(ms []metric.Metric) // ms: signup, revenue, tickets, …
		same   bool
	}{
		{"primary's name and description", func(ms []metric.Metric) { ms[0].Name, ms[0].Description = "Sign-ups", "who signed up" }, true},
		{"a metric the hypothesis does not name", func(ms []metric.Metric) { ms[1].Event = "refund" }, true},
		{"primary's window", func(ms []metric.Metric) { ms[0].Window = metric.Window(7 * 24 * time.Hour) }, false},
		{"primary's event", func(ms []metric.Metric) { ms[0].Event = "signup-completed" }, false},
		{"guardrail's kind", func(ms []metric.Metric) { ms[2].Kind = metric.Conversion }, false},
		{"guardrail's direction", func(ms []metric.Metric) { ms[2].Direction = metric.HigherIsBetter }, false},
		{"guardrail's cap", func(ms []metric.Metric) { ms[2].Cap = &limit }, false},
	} {
		if got := terms(c.change) == base; got != c.same {
			t.Errorf("%s: terms unchanged %v, want %v", c.name, got, c.same)
		}
	}
}
