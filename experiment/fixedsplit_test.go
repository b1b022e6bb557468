package experiment

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/stats"
)

// pilotPrecision is, by hand, what the pilot look res fixes for its
// treatment under the normal approximation: each arm's variance per
// user (SE²·n of the primary metric, signup: a conversion, so every
// exposed user has a value), the control's weighed by (1 + δ)² = 1.69 as
// the relative effect's delta method weighs it at the alternative, and
// the target variance in the metric's units, (|d|/(z_{1−α/2} +
// z_{power}))² for the +30% relative effect on the control rate,
// d = 0.3·μc, at α = 0.05 and 80% power (the far tail of a two-sided test
// adds about 1e-6 of power, nothing here).
func pilotPrecision(t *testing.T, res *Result) (vc, vt, target float64) {
	t.Helper()
	pm := res.Metrics[0]
	if pm.Metric != "signup" {
		t.Fatalf("primary metric %s", pm.Metric)
	}
	c, tr := pm.Variants[0], pm.Variants[1]
	vc, vt = 1.3*1.3**c.SE**c.SE*float64(c.Users), *tr.SE**tr.SE*float64(tr.Users)
	d := 0.3 * *c.AdjustedMean
	se := d / (1.959963984540054 + 0.8416212335729143)
	return vc, vt, se * se
}

// fromScratch is, by hand, the users planned at shares sc and st:
// vc/(N·sc) + vt/(N·st) = target.
func fromScratch(vc, vt, target, sc, st float64) int64 {
	return int64(math.Ceil((vc/sc + vt/st) / target))
}

// twoPeriods is, by hand, the variance of the difference of a test whose
// users came in two periods of the split, nc1/nt1 then nc2/nt2, combined
// with the weights W ∝ 1/(1/n_c + 1/n_t) of the stratified analysis.
func twoPeriods(vc, vt float64, nc1, nt1, nc2, nt2 float64) float64 {
	w1, w2 := 1/(1/nc1+1/nt1), 1/(1/nc2+1/nt2)
	return (w1*w1*(vc/nc1+vt/nt1) + w2*w2*(vc/nc2+vt/nt2)) / ((w1 + w2) * (w1 + w2))
}

// TestFixedPlanFollowsTheSplit: a plan fixed from a pilot at a 10/90
// split, then read at 50/50 (a rollout's step: the same test), needs the
// users the pilot's precision needs at 50/50, far fewer than planned at
// 10/90, and decides at the first look whose arms' users give that
// precision, whatever the outcomes. Before, the plan was the count of
// users planned at 10/90, and the test ran past it. The other way, a
// treatment's share going down from 50% to 10% raises the planned
// sample: before, the test was read, underpowered, at the count planned
// at 50/50.
func TestFixedPlanFollowsTheSplit(t *testing.T) {
	ms := testMetrics()
	const t1 = int64(1_767_300_000_000)
	analyze := func(periods []rolloutPeriod) *Result {
		t.Helper()
		aggs, splits := rolloutAggregates(t, ms, periods)
		h := NewHypothesis()
		h.PrimaryMetric, h.MinimumEffect = "signup", 0.3
		h.Settings.Inference = Fixed
		h.Settings.Control = "control"
		f := testFlag() // serving the last period's split
		w := periods[len(periods)-1].split
		f.Targeting = fmt.Appendf(nil, `{"fractional":[["control",%v],["treatment",%v]]}`, w["control"], w["treatment"])
		res, err := Analyze(Input{Environment: "prod", Flag: "onboarding", Definition: f, Metrics: ms, Aggregates: aggs, Splits: splits, Hypothesis: h, Settings: h.Settings})
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict == nil || len(res.Verdict.Variants) != 1 {
			t.Fatalf("verdict %+v", res.Verdict)
		}
		return res
	}
	canary := func(nc, nt int, pc, pt float64) rolloutPeriod {
		return rolloutPeriod{0, map[string]float64{"control": 10, "treatment": 90}, []arm{{name: "control", users: nc, signup: pc}, {name: "treatment", users: nt, signup: pt}}}
	}
	even := func(start int64, n int, pc, pt float64) rolloutPeriod {
		return rolloutPeriod{start, map[string]float64{"control": 50, "treatment": 50}, []arm{{name: "control", users: n, signup: pc}, {name: "treatment", users: n, signup: pt}}}
	}
	pilot := analyze([]rolloutPeriod{canary(100, 900, 0.2, 0.22)})
	p, ok := NewFixedPlan(pilot)
	if !ok {
		t.Fatalf("no plan from the pilot: %s", pilot.Verdict.Reason)
	}
	vc, vt, target := pilotPrecision(t, pilot)
	at10, at50 := fromScratch(vc, vt, target, 0.1, 0.9), fromScratch(vc, vt, target, 0.5, 0.5)
	if got := *pilot.Verdict.Variants[0].PlannedUsers; math.Abs(float64(got-at10)) > 1 {
		t.Fatalf("the pilot planned %d users at 10/90, by hand %d", got, at10)
	}

	// The split moves to 50/50: the users to come are a period of their
	// own, and the test is read when the two periods' users give the
	// pilot's precision: the smallest n per arm at 50/50 with
	// twoPeriods(100, 900, n, n) at most the target.
	n := 2
	for twoPeriods(vc, vt, 100, 900, float64(n), float64(n)) > target {
		n++
	}
	ramp := canary(100, 900, 0.2, 0.22)
	read := func(n int, pc, pt float64) (*Result, VariantVerdict) {
		t.Helper()
		r := analyze([]rolloutPeriod{ramp, even(t1, n, pc, pt)})
		if !p.Apply(r) {
			t.Fatalf("the plan fixed at 10/90 did not apply at 50/50")
		}
		return r, r.Verdict.Variants[0]
	}
	r, vv := read(2, 0.5, 0.5)
	more := *vv.RemainingUsers
	if !(1004+more < at10) || r.Plan.Planned() != 1004+more || vv.Decision != KeepRunning {
		t.Errorf("at 50/50 just after the step: %s, %d more users, planned %d; want keep_running, the planned sample below the %d planned at 10/90", vv.Decision, more, r.Plan.Planned(), at10)
	}
	x := 0.0
	for twoPeriods(vc, vt, 100, 900, 2+x/2, 2+x/2) > target {
		x++
	}
	if want := int64(1004 + x); r.Plan.Planned() != want {
		t.Errorf("planned at 50/50: %d, by hand %d (%d from scratch at 50/50, %d at 10/90)", r.Plan.Planned(), want, at50, at10)
	}
	// Which look decides is the counts' doing, never the outcomes'.
	for _, rates := range [][2]float64{{0.2, 0.22}, {0.2, 0.2}, {0.3, 0.1}, {0.05, 0.5}} {
		if _, vv := read(n-1, rates[0], rates[1]); vv.Decision != KeepRunning || vv.Code != CodeNeedMoreUsers {
			t.Errorf("rates %v, %d per arm at 50/50, one short of the precision: %s (%s), want keep_running", rates, n-1, vv.Decision, vv.Reason)
		}
		if _, vv := read(n, rates[0], rates[1]); vv.Decision == KeepRunning || vv.RemainingUsers != nil && *vv.RemainingUsers != 0 {
			t.Errorf("rates %v, %d per arm at 50/50, at the precision: %s (%s), want decided", rates, n, vv.Decision, vv.Reason)
		}
	}

	// A share going down: fixed at 50/50, then the treatment at 10%.
	flat := analyze([]rolloutPeriod{even(0, 500, 0.2, 0.22)})
	q, ok := NewFixedPlan(flat)
	if !ok {
		t.Fatalf("no plan from the 50/50 pilot: %s", flat.Verdict.Reason)
	}
	vc, vt, target = pilotPrecision(t, flat)
	// 50/50 until now, the users to come at 90/10.
	down := even(0, 500, 0.2, 0.22)
	next := rolloutPeriod{t1, map[string]float64{"control": 90, "treatment": 10}, []arm{{name: "control", users: 9, signup: 0.2}, {name: "treatment", users: 2, signup: 0.22}}}
	r = analyze([]rolloutPeriod{down, next})
	if !q.Apply(r) {
		t.Fatal("the plan fixed at 50/50 did not apply at 90/10")
	}
	vv = r.Verdict.Variants[0]
	x = 0
	for twoPeriods(vc, vt, 500, 500, 9+0.9*x, 2+0.1*x) > target {
		x++
	}
	was := *flat.Verdict.Variants[0].PlannedUsers
	if want := 1011 + x; float64(r.Plan.Planned()) != want || !(r.Plan.Planned() > was) || vv.Decision != KeepRunning {
		t.Errorf("at 90/10: %s, planned %d; want keep_running, planned about %.0f by hand, above the %d planned at 50/50", vv.Decision, r.Plan.Planned(), want, was)
	}
}

// TestFixedPlanNewArm: the stratified analysis weighs a period by all its
// arms, W_p ∝ 1/Σ_a 1/n_{a,p}, and gives none to a period in which an
// arm of the analysis had no users or no share (an arm added later, a 0%
// step). The plan's precision is that analysis' own: a treatment's test is
// not at its planned sample on the users of a period the analysis leaves
// out. Before, a third arm added after 2,000 users at 50/50 left the
// other treatment's test at its precision on users the analysis does not
// read: 10 per arm read as the planned sample.
func TestFixedPlanNewArm(t *testing.T) {
	in := PlanInputs{Effect: 0.05}
	in.Alpha, in.Power, in.SD, in.Alternative = 0.05, 0.8, 0.5, stats.TwoSided
	res := &Result{
		Variants: []Variant{{Name: "control", Users: 1010, Share: 1. / 3}, {Name: "a", Users: 1010, Share: 1. / 3}, {Name: "b", Users: 10, Share: 1. / 3}},
		Periods: []Period{
			{Weights: map[string]float64{"control": 50, "a": 50}, Users: map[string]int64{"control": 1000, "a": 1000, "b": 0}},
			{Weights: map[string]float64{"control": 1, "a": 1, "b": 1}, Users: map[string]int64{"control": 10, "a": 10, "b": 10}},
		},
		split: map[string]float64{"control": 1. / 3, "a": 1. / 3, "b": 1. / 3},
	}
	se, err := in.RequiredSE(in.Effect)
	if err != nil {
		t.Fatal(err)
	}
	// By hand: only the second period is read, then n per arm more at a
	// third each: 2σ²/(10+n) ≤ SE*².
	n := 0
	for 2*0.25/float64(10+n) > se*se {
		n++
	}
	for tr, want := range map[int]int64{1: int64(3 * n), 2: int64(3 * n)} {
		got, err := in.remaining(allocation(res, tr))
		if err != nil {
			t.Fatal(err)
		}
		if d := got - want; d < -3 || d > 3 {
			t.Errorf("treatment %s: %d users more, by hand %d (the first period, without arm b, has no weight)", res.Variants[tr].Name, got, want)
		}
	}
}

// TestFixedPlanReadUsers: with excludeOpenWindows, the primary metric's
// test reads only the users whose window has ended, and the plan's rule
// counts those: the users of open days, per period, are not in the
// precision the look has. Before, every user counted, so that after a
// ramp (many users in their window) the look was read at its planned
// sample on a precision it did not have: 1,000 per arm counted where the
// analysis read 400.
func TestFixedPlanReadUsers(t *testing.T) {
	h := NewHypothesis()
	h.PrimaryMetric = "signup"
	res := &Result{
		Hypothesis: h,
		Variants:   []Variant{{Name: "control", Users: 1000, Share: 0.5}, {Name: "treatment", Users: 1000, Share: 0.5}},
		open: windowState{"signup": {excluded: true,
			users:   map[string]int64{"control": 600, "treatment": 600},
			periods: map[variantPeriod]int64{{"control", 0}: 600, {"treatment", 0}: 600}}},
	}
	periods, now := allocation(res, 1)
	if len(periods) != 1 || periods[0].rc != 400 || periods[0].rt != 400 || periods[0].c != 1000 || now.c != 0.5 {
		t.Errorf("allocation %+v at %+v: want the 400 users per arm the metric reads", periods, now)
	}
	res.open["signup"] = windowCounts{excluded: false, users: res.open["signup"].users, periods: res.open["signup"].periods}
	if periods, _ := allocation(res, 1); periods[0].rc != 1000 {
		t.Errorf("open windows counted in: %+v, want every user", periods)
	}
}

// TestFixedPlanRelative: a hypothesis with a relative minimum effect is
// decided on the relative effect's interval, whose variance at the
// alternative μt = μc(1 + δ) is (q²σc²/nc + σt²/nt)/μc², q = 1 + δ. The
// rule reads the plan's precision on that scale. Before, it weighed the
// control arm by 1 (the absolute difference's variance against
// (δ·μc/u)²): a +10% plan on equal arms was at its planned sample at
// 1,005 users per arm, where the test has 80% power at 1,111 (76% at
// 1,005).
func TestFixedPlanRelative(t *testing.T) {
	in := PlanInputs{Effect: 0.1}
	in.Alpha, in.Power, in.SD, in.Alternative = 0.05, 0.8, 8, stats.TwoSided
	in.Relative, in.Baseline = true, 10
	at := func(n int64) *Result {
		return &Result{
			Variants: []Variant{{Name: "control", Users: n, Share: 0.5}, {Name: "b", Users: n, Share: 0.5}},
			Periods:  []Period{{Weights: map[string]float64{"control": 50, "b": 50}, Users: map[string]int64{"control": n, "b": n}}},
			split:    map[string]float64{"control": 0.5, "b": 0.5},
		}
	}
	// By hand: scipy's 1,110.14 per arm for 80% two-sided
	// (stats/testdata/relative_plan.json), so from 1,005 per arm
	// 2·105.14 more at 50/50.
	for n, want := range map[int64]int64{1005: 211, 1111: 0} {
		got, err := in.remaining(allocation(at(n), 1))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("at %d users per arm: %d users more, want %d", n, got, want)
		}
	}
}

// TestFixedPlanRelativeLogRatio: a fixed plan of a large relative decrease
// of a non-negative metric is at its planned sample when the test the
// analysis runs there, the log ratio's, has its power (stats.Plan.Short),
// the users stats.Plan.SampleSize plans. It read the delta method's
// precision: −90% of a 10% conversion rate was at its planned sample at 11
// users per arm, where the log ratio's test needs 160.
func TestFixedPlanRelativeLogRatio(t *testing.T) {
	in := PlanInputs{Effect: -0.9}
	in.Alpha, in.Power, in.Alternative = 0.05, 0.8, stats.TwoSided
	in.SD, in.TreatmentSD = stats.ProportionSD(0.1), stats.ProportionSD(0.01)
	in.Relative, in.Baseline, in.NonNegative = true, 0.1, true
	nc, _, err := in.SampleSize(in.Effect)
	if err != nil {
		t.Fatal(err)
	}
	if nc < 150 || nc > 170 {
		t.Fatalf("SampleSize(-90%%) = %v per arm, want about 160 (the log ratio's)", nc)
	}
	at := func(n int64) *Result {
		return &Result{
			Variants: []Variant{{Name: "control", Users: n, Share: 0.5}, {Name: "b", Users: n, Share: 0.5}},
			Periods:  []Period{{Weights: map[string]float64{"control": 50, "b": 50}, Users: map[string]int64{"control": n, "b": n}}},
			split:    map[string]float64{"control": 0.5, "b": 0.5},
		}
	}
	need := int64(math.Ceil(nc))
	for n, want := range map[int64]int64{11: 2 * (need - 11), need - 1: 2, need: 0} {
		got, err := in.remaining(allocation(at(n), 1))
		if err != nil {
			t.Fatal(err)
		}
		if got < want-1 || got > want {
			t.Errorf("at %d users per arm: %d users more, want %d (%v per arm planned)", n, got, want, nc)
		}
	}
}

// TestFixedPlanSplitServesNoArmNow: a fixed-horizon test whose split now
// gives control no share (rolled out to 100%, or disabled) gets no more
// users for control, so its planned sample is never reached: the verdict
// says so and what to do, instead of "about 1,000,000,000,000,000 more
// users" (the search's cap printed as a count).
func TestFixedPlanSplitServesNoArmNow(t *testing.T) {
	ms := testMetrics()
	const t1 = int64(1_767_300_000_000)
	for _, now := range []map[string]float64{{"treatment": 100}, nil} {
		aggs, splits := rolloutAggregates(t, ms, []rolloutPeriod{
			{0, map[string]float64{"control": 50, "treatment": 50}, []arm{{name: "control", users: 1000, signup: 0.3}, {name: "treatment", users: 1000, signup: 0.31}}},
			{t1, now, nil},
		})
		h := NewHypothesis()
		h.PrimaryMetric, h.MinimumEffect = "signup", 0.1
		h.Settings.Inference = Fixed
		h.Settings.Control = "control"
		f := rolloutFlag()
		res, err := Analyze(Input{Environment: "prod", Flag: "onboarding", Definition: f, Metrics: ms, Aggregates: aggs, Splits: splits, Hypothesis: h, Settings: h.Settings})
		if err != nil {
			t.Fatal(err)
		}
		v := res.Verdict
		if v == nil || v.Decision != KeepRunning || v.Code != CodeNoPlannedSample || v.RemainingUsers != nil || !strings.Contains(v.Reason, "no share") {
			t.Errorf("split now %v: verdict %+v; want no planned sample, the split giving an arm no share", now, v)
		}
	}
}
