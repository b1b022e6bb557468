package experiment

import (
	"math"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// effect is a relative effect as a test case states it: the estimate, the
// bounds of the sequential interval, and the adjusted sequential p-value.
type effect struct{ est, lo, hi, p float64 }

const baseline = 0.2 // control mean of every metric in the verdict tests

// lift builds a comparison from a relative effect: the absolute effect is
// baseline times it, the fixed-horizon interval is the sequential one
// shrunk to 80 %, and the fixed p-value is a tenth of the sequential one.
func lift(e effect) *Lift {
	mk := func(k float64) stats.Effect {
		half := (e.hi - e.lo) / 2 * k
		mid := (e.hi + e.lo) / 2 * k
		return stats.Effect{
			Estimate:   e.est * k,
			SE:         half / 2.5,
			Sequential: stats.Interval{Lower: e.lo * k, Upper: e.hi * k},
			Interval:   stats.Interval{Lower: mid - 0.8*half, Upper: mid + 0.8*half},
		}
	}
	rel, abs := mk(1), mk(baseline)
	for _, x := range []*stats.Effect{&rel, &abs} {
		x.SequentialPValue, x.AdjustedSequentialPValue, x.PValue, x.AdjustedPValue = e.p, e.p, e.p/10, e.p/10
	}
	return &Lift{Absolute: abs, Relative: &rel, SequentialPValue: e.p, AdjustedSequentialPValue: e.p, PValue: e.p / 10, AdjustedPValue: e.p / 10}
}

// scenario is a result to judge: control and treatments with their users,
// a primary metric "signup" (higher is better) and a guardrail "tickets"
// (lower is better).
type scenario struct {
	users     []int64   // control first
	primary   []*Lift   // per treatment; nil: not enough data
	guardrail []*Lift   // per treatment; nil: not enough data
	srmP      float64   // SRM p-value (0: 0.5)
	settings  *Settings // nil: defaults
}

func (sc scenario) result() *Result {
	s := DefaultSettings()
	if sc.settings != nil {
		s = *sc.settings
	}
	res := &Result{Settings: s}
	names := []string{"control", "treatment", "other"}
	result := func(key string, dir metric.Direction, lifts []*Lift) MetricResult {
		m := MetricResult{Metric: key, Direction: dir}
		for i, n := range sc.users {
			v := VariantResult{Variant: names[i], Control: i == 0, Users: n, Status: stats.OK, Mean: ptr(baseline), AdjustedMean: ptr(baseline)}
			if i > 0 {
				v.Lift = lifts[i-1]
				if v.Lift == nil {
					v.Status, v.Reason = stats.NotEnoughData, "not enough data: the metric does not vary in either arm"
				}
			}
			m.Variants = append(m.Variants, v)
		}
		return m
	}
	for i, n := range sc.users {
		res.Variants = append(res.Variants, Variant{Name: names[i], Control: i == 0, Weight: 1, Share: 1 / float64(len(sc.users)), Users: n})
		res.Users += n
	}
	res.SRM = stats.SRM{Status: stats.OK, PValue: 0.5}
	if sc.srmP != 0 {
		res.SRM.PValue, res.SRM.Mismatch = sc.srmP, sc.srmP < stats.SRMThreshold
	}
	res.Metrics = []MetricResult{result("signup", metric.HigherIsBetter, sc.primary), result("tickets", metric.LowerIsBetter, sc.guardrail)}
	return res
}

func testHypothesis() *Hypothesis {
	h := NewHypothesis()
	h.PrimaryMetric, h.Direction, h.MinimumEffect, h.Power = "signup", Increase, 0.02, 0.8
	h.Guardrails = []Guardrail{{Metric: "tickets", Tolerance: 0.05}}
	return h
}

var (
	win      = effect{0.05, 0.02, 0.08, 0.001}   // +5 % [+2 %, +8 %]
	flat     = effect{0.01, -0.03, 0.05, 0.6}    // straddles 0 and the minimum
	harmless = effect{0, -0.03, 0.03, 1}         // guardrail: no change
	tooSmall = effect{0.008, 0.002, 0.015, 0.01} // significant, below +2 %
	wrongWay = effect{-0.05, -0.08, -0.02, 0.001}
	sigSmall = effect{0.018, 0.002, 0.034, 0.01} // significant, estimate below +2 %, could reach it
	// With the standard error of these intervals the planned sample is
	// reached (the scenario's per-user spread follows from SE and users).
	narrowFlat = effect{0.01, -0.004, 0.024, 0.2}
	narrowWin  = effect{0.025, 0.021, 0.029, 0.001}
	breach     = effect{0.12, 0.07, 0.17, 0.001} // tickets +12 % [+7 %, +17 %]: harm beyond 5 %
	atRisk     = effect{0.08, -0.01, 0.17, 0.2}  // tickets +8 %, not significant
	fewUsers   = []int64{1000, 1000}
)

// TestVerdicts walks every verdict and reason.
func TestVerdicts(t *testing.T) {
	decrease := func(h *Hypothesis) { h.Direction = Decrease }
	for _, tc := range []struct {
		name      string
		sc        scenario
		edit      func(*Hypothesis)
		decision  Decision
		code      string
		reason    []string // substrings of the reason
		variant   string
		remaining string // "none", "positive" or "zero"
	}{
		{"worth shipping", scenario{users: fewUsers, primary: []*Lift{lift(win)}, guardrail: []*Lift{lift(harmless)}}, nil,
			Validated, CodeWorthShipping, []string{"signup moved +5.0% [+2.0%, +8.0%]", "(p = 0.001 < 0.05)", "+2.0% worth shipping"}, "treatment", "none"},
		{"SRM blocks even a winner", scenario{users: fewUsers, primary: []*Lift{lift(win)}, guardrail: []*Lift{lift(harmless)}, srmP: 1e-6}, nil,
			Blocked, CodeSRM, []string{"sample ratio mismatch", "p = 1e-06"}, "", "none"},
		{"SRM p just above the threshold does not block", scenario{users: fewUsers, primary: []*Lift{lift(win)}, guardrail: []*Lift{lift(harmless)}, srmP: 0.002}, nil,
			Validated, CodeWorthShipping, nil, "treatment", "none"},
		{"guardrail breach invalidates a winner", scenario{users: fewUsers, primary: []*Lift{lift(win)}, guardrail: []*Lift{lift(breach)}}, nil,
			Invalidated, CodeGuardrailBreached, []string{"guardrail tickets got worse", "+12% [+7.0%, +17%]", "more than the 5.0% tolerated"}, "treatment", "none"},
		{"guardrail not yet known holds a winner back", scenario{users: fewUsers, primary: []*Lift{lift(win)}, guardrail: []*Lift{lift(atRisk)}}, nil,
			KeepRunning, CodeGuardrailUnknown, []string{"guardrail tickets is not yet known", "reaches beyond the 5.0% tolerated", "more users to reach 80% power to show it non-inferior"}, "treatment", "positive"},
		{"guardrail estimated harmless but not yet shown within tolerance", scenario{users: fewUsers, primary: []*Lift{lift(win)}, guardrail: []*Lift{lift(effect{0, -0.1, 0.246, 0.9})}}, nil,
			KeepRunning, CodeGuardrailUnknown, []string{"guardrail tickets is not yet known", "0% [-10%, +25%]"}, "treatment", "positive"},
		{"guardrail not yet known after the users planned for it", scenario{users: fewUsers, primary: []*Lift{lift(narrowWin)}, guardrail: []*Lift{lift(effect{0.045, 0.035, 0.055, 0.001})}}, nil,
			Inconclusive, CodeGuardrailUnknown, []string{"after the users planned for it"}, "treatment", "none"},
		{"guardrail without data blocks validation", scenario{users: fewUsers, primary: []*Lift{lift(win)}, guardrail: []*Lift{nil}}, nil,
			KeepRunning, CodeGuardrailUnknown, []string{"guardrail tickets is not yet known", "not enough data"}, "treatment", "none"},
		{"wrong direction", scenario{users: fewUsers, primary: []*Lift{lift(wrongWay)}, guardrail: []*Lift{lift(harmless)}}, nil,
			Invalidated, CodeWrongDirection, []string{"signup moved -5.0% [-8.0%, -2.0%]", "the increase was expected"}, "treatment", "none"},
		{"below the minimum effect", scenario{users: fewUsers, primary: []*Lift{lift(tooSmall)}, guardrail: []*Lift{lift(harmless)}}, nil,
			Invalidated, CodeBelowMinimum, []string{"the increase is at most 1.5%, less than the 2.0% worth shipping"}, "treatment", "none"},
		{"keep running", scenario{users: fewUsers, primary: []*Lift{lift(flat)}, guardrail: []*Lift{lift(harmless)}}, nil,
			KeepRunning, CodeNeedMoreUsers, []string{"not decided yet", "signup moved +1.0% [-3.0%, +5.0%]", "more users to reach 80% power for +2.0%"}, "treatment", "positive"},
		{"significant but maybe below the minimum: keep running", scenario{users: fewUsers, primary: []*Lift{lift(sigSmall)}, guardrail: []*Lift{lift(harmless)}}, nil,
			KeepRunning, CodeNeedMoreUsers, nil, "treatment", "positive"},
		{"inconclusive after the planned sample", scenario{users: fewUsers, primary: []*Lift{lift(narrowFlat)}, guardrail: []*Lift{lift(harmless)}}, nil,
			Inconclusive, CodePlannedSampleReached, []string{"not decided yet after the planned sample (80% power for +2.0%)"}, "treatment", "zero"},
		{"not enough data", scenario{users: []int64{1, 1}, primary: []*Lift{nil}, guardrail: []*Lift{nil}}, nil,
			KeepRunning, CodeNotEnoughData, []string{"signup: not enough data"}, "treatment", "none"},
		{"zero baseline", scenario{users: fewUsers, primary: []*Lift{func() *Lift { l := lift(win); l.Relative = nil; return l }()}, guardrail: []*Lift{lift(harmless)}}, nil,
			KeepRunning, CodeZeroBaseline, []string{"control mean is zero"}, "treatment", "none"},
		{"all against none has no relative effect, though the baseline is not zero", scenario{users: fewUsers, primary: []*Lift{func() *Lift {
			l := lift(win)
			l.Relative, l.Absolute.Method, l.Absolute.Estimate = nil, stats.MethodNewcombe, -1
			return l
		}()}, guardrail: []*Lift{lift(harmless)}}, nil,
			KeepRunning, CodeNotEnoughData, []string{"every user converted in control and none in the treatment", "give the minimum effect as absolute"}, "treatment", "none"},
		{"zero baseline is no obstacle to an absolute minimum", scenario{users: fewUsers, primary: []*Lift{func() *Lift { l := lift(win); l.Relative = nil; return l }()}, guardrail: []*Lift{lift(harmless)}},
			func(h *Hypothesis) { h.Absolute, h.MinimumEffect = true, 0.004 }, Validated, CodeWorthShipping, []string{"signup moved +0.01 [+0.004, +0.016]", "+0.004 worth shipping"}, "treatment", "none"},
		{"expected decrease validated", scenario{users: fewUsers, primary: []*Lift{lift(wrongWay)}, guardrail: []*Lift{lift(harmless)}}, decrease,
			Validated, CodeWorthShipping, []string{"-2.0% worth shipping"}, "treatment", "none"},
		{"expected decrease, went up", scenario{users: fewUsers, primary: []*Lift{lift(win)}, guardrail: []*Lift{lift(harmless)}}, decrease,
			Invalidated, CodeWrongDirection, []string{"the decrease was expected"}, "treatment", "none"},
		{"best of two treatments", scenario{users: []int64{1000, 1000, 1000}, primary: []*Lift{lift(flat), lift(win)}, guardrail: []*Lift{lift(harmless), lift(harmless)}}, nil,
			Validated, CodeWorthShipping, []string{"p = 0.002 adjusted (holm) over the 2 treatments < 0.05"}, "other", "none"},
		{"a treatment breaching a guardrail does not stop another", scenario{users: []int64{1000, 1000, 1000}, primary: []*Lift{lift(win), lift(win)}, guardrail: []*Lift{lift(breach), lift(harmless)}}, nil,
			Validated, CodeWorthShipping, nil, "other", "none"},
		{"every treatment invalidated", scenario{users: []int64{1000, 1000, 1000}, primary: []*Lift{lift(wrongWay), lift(tooSmall)}, guardrail: []*Lift{lift(harmless), lift(harmless)}}, nil,
			Invalidated, CodeWrongDirection, []string{"every treatment is invalidated", "treatment: ", "other: "}, "", "none"},
		{"one undecided treatment keeps the experiment running", scenario{users: []int64{1000, 1000, 1000}, primary: []*Lift{lift(wrongWay), lift(flat)}, guardrail: []*Lift{lift(harmless), lift(harmless)}}, nil,
			KeepRunning, CodeNeedMoreUsers, nil, "other", "positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := testHypothesis()
			if tc.edit != nil {
				tc.edit(h)
			}
			v := judge(tc.sc.result(), h)
			if v.Decision != tc.decision || v.Code != tc.code || v.Variant != tc.variant {
				t.Errorf("verdict = %s/%s on %q, want %s/%s on %q\nreason: %s", v.Decision, v.Code, v.Variant, tc.decision, tc.code, tc.variant, v.Reason)
			}
			for _, want := range tc.reason {
				if !strings.Contains(v.Reason, want) {
					t.Errorf("reason %q lacks %q", v.Reason, want)
				}
			}
			switch {
			case tc.remaining == "none" && v.RemainingUsers != nil:
				t.Errorf("remaining users = %d, want none", *v.RemainingUsers)
			case tc.remaining == "positive" && (v.RemainingUsers == nil || *v.RemainingUsers <= 0):
				t.Errorf("remaining users = %v, want a positive estimate", v.RemainingUsers)
			case tc.remaining == "zero" && (v.RemainingUsers != nil && *v.RemainingUsers != 0):
				t.Errorf("remaining users = %d, want 0", *v.RemainingUsers)
			}
		})
	}
}

func TestGuardrailChecks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		e      effect
		dir    metric.Direction
		status string
	}{
		{"lower is better, rose beyond tolerance", breach, metric.LowerIsBetter, GuardrailHarmed},
		{"lower is better, fell", wrongWay, metric.LowerIsBetter, GuardrailOK},
		{"higher is better, fell beyond tolerance", effect{-0.12, -0.17, -0.07, 0.001}, metric.HigherIsBetter, GuardrailHarmed},
		{"higher is better, rose", breach, metric.HigherIsBetter, GuardrailOK},
		{"estimate beyond tolerance, bound within", atRisk, metric.LowerIsBetter, GuardrailUnknown},
		{"estimate within tolerance, upper bound beyond", effect{0, -0.1, 0.246, 0.9}, metric.LowerIsBetter, GuardrailUnknown},
		{"upper bound exactly at the tolerance", effect{0, -0.05, 0.05, 1}, metric.LowerIsBetter, GuardrailOK},
		{"significant harm within tolerance", effect{0.03, 0.01, 0.05, 0.01}, metric.LowerIsBetter, GuardrailOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &MetricResult{Metric: "g", Direction: tc.dir, Variants: []VariantResult{{}, {Lift: lift(tc.e)}}}
			c := checkGuardrail(m, Guardrail{Metric: "g", Tolerance: 0.05}, 1, inferred(Sequential), 1)
			if c.Status != tc.status {
				t.Errorf("status = %s (harm %+v), want %s", c.Status, c.Harm, tc.status)
			}
		})
	}
	m := &MetricResult{Metric: "g", Variants: []VariantResult{{}, {Reason: "not enough data: x"}}}
	if c := checkGuardrail(m, Guardrail{Metric: "g"}, 1, inferred(Sequential), 1); c.Status != GuardrailNoData || c.Reason != "not enough data: x" {
		t.Errorf("guardrail without data = %+v", c)
	}
}

// TestFixedInference: fixed-horizon intervals and p-values decide when asked.
func TestFixedInference(t *testing.T) {
	s := DefaultSettings()
	s.Inference = Fixed
	// The sequential p (0.1) is not significant, the fixed one (0.01) is,
	// and the planned sample is reached.
	e := effect{0.025, 0.021, 0.029, 0.1}
	v := judge(scenario{users: fewUsers, primary: []*Lift{lift(e)}, guardrail: []*Lift{lift(harmless)}, settings: &s}.result(), testHypothesis())
	if v.Decision != Validated || !strings.Contains(v.Reason, "[+2.2%, +2.8%]") {
		t.Errorf("fixed inference: %s %q, want validated on the fixed interval", v.Decision, v.Reason)
	}
	v = judge(scenario{users: fewUsers, primary: []*Lift{lift(e)}, guardrail: []*Lift{lift(harmless)}}.result(), testHypothesis())
	if v.Decision != Inconclusive {
		t.Errorf("sequential inference: %s, want inconclusive (not significant, planned sample reached)", v.Decision)
	}
}

func TestBoundsOfOneSidedIntervals(t *testing.T) {
	e := stats.Effect{Estimate: 2, Sequential: stats.Interval{Lower: 1, UpperUnbounded: true}}
	if b := bounds(e, Sequential); b != (Bounds{Estimate: 2, Lower: 1, Upper: 3}) {
		t.Errorf("[1, +inf) around 2 = %+v, want [1, 3]", b)
	}
	e.Sequential = stats.Interval{Upper: 2.5, LowerUnbounded: true}
	if b := bounds(e, Sequential); b != (Bounds{Estimate: 2, Lower: 1.5, Upper: 2.5}) {
		t.Errorf("(-inf, 2.5] around 2 = %+v, want [1.5, 2.5]", b)
	}
	// A log-ratio bound at −100% has no mirror image: the largest number,
	// not +Inf, which JSON cannot hold.
	e = stats.Effect{Estimate: 0, Method: "log-ratio", SE: 1, Sequential: stats.Interval{Lower: -1, UpperUnbounded: true}}
	if b := bounds(e, Sequential); b.Upper != math.MaxFloat64 {
		t.Errorf("[-100%%, +inf) of a log-ratio = %+v, want the largest number above", b)
	}
}

// TestRemainingUsersFromPlan checks the estimate against stats.Plan with
// the per-unit standard deviation the scenario was built from, and that the
// users it asks for do reach the planned power.
func TestRemainingUsersFromPlan(t *testing.T) {
	const sd, nc, nt = 0.4, 2000, 2000
	se := sd * math.Sqrt(1.0/nc+1.0/nt)
	h := testHypothesis()
	for _, inf := range []Inference{Fixed, Sequential} {
		t.Run(string(inf), func(t *testing.T) {
			s := DefaultSettings()
			s.Inference = inf
			const mult = 3.1 // the sequence's critical value at this sample
			l := &Lift{
				Absolute: stats.Effect{Estimate: 0.002, SE: se,
					Interval:   stats.Interval{Lower: 0.002 - 1.96*se, Upper: 0.002 + 1.96*se},
					Sequential: stats.Interval{Lower: 0.002 - mult*se, Upper: 0.002 + mult*se}},
				AdjustedPValue: 0.5, AdjustedSequentialPValue: 0.9,
			}
			rel := stats.Effect{Estimate: 0.01, Interval: stats.Interval{Lower: -0.1, Upper: 0.12}, Sequential: stats.Interval{Lower: -0.15, Upper: 0.17}}
			l.Relative = &rel
			res := scenario{users: []int64{nc, nt}, primary: []*Lift{l}, guardrail: []*Lift{lift(harmless)}, settings: &s}.result()
			v := judge(res, h)
			if v.Decision != KeepRunning || v.RemainingUsers == nil {
				t.Fatalf("verdict %s %q, want keep running with an estimate", v.Decision, v.Reason)
			}
			alpha := s.Alpha
			if inf == Sequential {
				alpha = math.Erfc(mult / math.Sqrt2)
			}
			plan := stats.Plan{Alpha: alpha, Alternative: stats.TwoSided, Power: 0.8, SD: sd, Relative: true, Baseline: baseline, Ratio: 1}
			c, tr, err := plan.SampleSize(0.02)
			if err != nil {
				t.Fatal(err)
			}
			want := int64(math.Ceil(c+tr)) - nc - nt
			if got := *v.RemainingUsers; got != want {
				t.Errorf("remaining = %d, want %d (plan: %.1f + %.1f)", got, want, c, tr)
			}
			power, err := plan.PowerAt(0.02, float64(nc+*v.RemainingUsers/2))
			if err != nil || math.Abs(power-0.8) > 1e-3 {
				t.Errorf("power after the remaining users = %v (%v), want 0.8", power, err)
			}
		})
	}
}

// TestVerdictFromAggregates runs the whole path on simulated events: a big
// lift in signups validates, a flat one keeps running, an SRM blocks.
func TestVerdictFromAggregates(t *testing.T) {
	ms := testMetrics()
	h := NewHypothesis()
	h.PrimaryMetric, h.MinimumEffect = "signup", 0.05
	h.Guardrails = []Guardrail{{Metric: "tickets", Tolerance: 0.5}}
	for _, tc := range []struct {
		name     string
		arms     []arm
		decision Decision
	}{
		{"validated", []arm{{name: "control", users: 3000, signup: 0.2, tickets: 0.1}, {name: "treatment", users: 3000, signup: 0.3, tickets: 0.1}}, Validated},
		{"keep running", []arm{{name: "control", users: 300, signup: 0.2, tickets: 0.1}, {name: "treatment", users: 300, signup: 0.2, tickets: 0.1}}, KeepRunning},
		{"guardrail breached", []arm{{name: "control", users: 3000, signup: 0.2, tickets: 0.05}, {name: "treatment", users: 3000, signup: 0.3, tickets: 0.2}}, Invalidated},
		{"sample ratio mismatch", []arm{{name: "control", users: 3000, signup: 0.2}, {name: "treatment", users: 2500, signup: 0.3}}, Blocked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			aggs := simulate(t, 9, "onboarding", ms, tc.arms)
			res, err := Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: aggs, Hypothesis: h, Settings: h.Settings})
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict == nil || res.Verdict.Decision != tc.decision {
				t.Fatalf("verdict = %+v, want %s", res.Verdict, tc.decision)
			}
			t.Logf("%s (%s): %s", res.Verdict.Decision, res.Verdict.Code, res.Verdict.Reason)
			if res.Metrics[0].Role != RolePrimary || res.Metrics[1].Role != RoleGuardrail || res.Metrics[0].Metric != "signup" || res.Metrics[1].Metric != "tickets" {
				t.Errorf("metric order/roles: %s %s, %s %s", res.Metrics[0].Metric, res.Metrics[0].Role, res.Metrics[1].Metric, res.Metrics[1].Role)
			}
			if res.Hypothesis == nil || res.Hypothesis.Direction != Increase || res.Hypothesis.Power != DefaultPower {
				t.Errorf("normalised hypothesis not recorded: %+v", res.Hypothesis)
			}
		})
	}
}

// TestVerdictUsesTheScaleOfItsInterval: a relative hypothesis is judged by
// the relative test, whose interval here includes 0, even though the
// absolute difference is significant on its own test.
func TestVerdictUsesTheScaleOfItsInterval(t *testing.T) {
	l := lift(effect{0.05, -0.01, 0.11, 0.2}) // relative: +5% [−1%, +11%], p = 0.2
	l.Absolute.AdjustedSequentialPValue, l.AdjustedSequentialPValue = 0.001, 0.001
	l.Absolute.AdjustedPValue, l.AdjustedPValue = 0.0001, 0.0001
	sc := scenario{users: fewUsers, primary: []*Lift{l}, guardrail: []*Lift{lift(harmless)}}
	v := judge(sc.result(), testHypothesis())
	if v.Decision == Validated {
		t.Errorf("validated on the absolute p-value while the relative interval includes 0: %s", v.Reason)
	}
}

// TestVerdictCarriesTheRelativeNote: when the control mean cannot be told
// from zero the verdict says the relative figure is not meaningful.
func TestVerdictCarriesTheRelativeNote(t *testing.T) {
	l := lift(flat)
	l.Relative.Note = "the control mean 0.01 is within 0.02 of zero"
	v := judge(scenario{users: fewUsers, primary: []*Lift{l}, guardrail: []*Lift{lift(harmless)}}.result(), testHypothesis())
	if !strings.Contains(v.Reason, "(note: the control mean 0.01 is within 0.02 of zero)") {
		t.Errorf("reason %q lacks the note", v.Reason)
	}
}

// TestRemainingUsersCoverGuardrails: while the primary metric is undecided,
// the remaining users include what a guardrail not yet known needs.
func TestRemainingUsersCoverGuardrails(t *testing.T) {
	narrowGuard := lift(effect{0.0, -0.3, 0.3, 0.9}) // wide: needs many users at 5% tolerance
	v := judge(scenario{users: fewUsers, primary: []*Lift{lift(flat)}, guardrail: []*Lift{narrowGuard}}.result(), testHypothesis())
	vv := v.Variants[0]
	g := vv.Guardrails[0]
	if vv.Decision != KeepRunning || g.RemainingUsers == nil || vv.RemainingUsers == nil || *vv.RemainingUsers != *g.RemainingUsers ||
		!strings.Contains(vv.Reason, "to show guardrail tickets non-inferior") {
		t.Errorf("verdict %s %q, remaining %v, guardrail's %v", vv.Decision, vv.Reason, vv.RemainingUsers, g.RemainingUsers)
	}
}

// TestVerdictIgnoresMetricsShown: the verdict's test is the primary
// metric's, corrected over the treatments only. It once took the adjusted
// p-value of the result's table, corrected across every metric shown, so
// the same data was validated with ?metric=signup and kept running with
// every metric of the environment (or once a metric was defined), and the
// recorded verdict (every metric) disagreed with the one a filtered
// results page showed.
func TestVerdictIgnoresMetricsShown(t *testing.T) {
	ms := testMetrics()
	h := NewHypothesis()
	h.PrimaryMetric, h.MinimumEffect = "signup", 0.05
	s := DefaultSettings()
	s.Inference = Fixed
	for _, seed := range []uint64{11, 19} {
		aggs := simulate(t, seed, "onboarding", ms, []arm{
			{name: "control", users: 3000, signup: 0.20, spend: 5, tickets: 0.1},
			{name: "treatment", users: 3000, signup: 0.235, spend: 5, tickets: 0.1},
		})
		var got []*Verdict
		for _, only := range [][]string{{"signup"}, nil} {
			res, err := Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: aggs, Hypothesis: h, Settings: s, Only: only})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, res.Verdict)
		}
		if got[0].Decision != got[1].Decision || got[0].Reason != got[1].Reason {
			t.Errorf("seed %d: only the primary metric: %s %q\nevery metric: %s %q", seed, got[0].Decision, got[0].Reason, got[1].Decision, got[1].Reason)
		}
	}
}

// TestFixedInferenceDecidesAtThePlannedSample: a fixed-horizon test is
// valid when read once, at the planned sample. The verdict is read at every
// look (the results route, the recorder every minute), so a fixed p-value
// below α before the planned sample must not validate or invalidate: taking
// the first crossing is the peeking a fixed design forbids (ten looks
// at α = 0.05 reject a true null about 19% of the time, Armitage, McPherson
// and Rowe 1969). A harmed guardrail still stops at once.
func TestFixedInferenceDecidesAtThePlannedSample(t *testing.T) {
	s := DefaultSettings()
	s.Inference = Fixed
	early := effect{0.05, 0.01, 0.09, 0.1}      // fixed p 0.01, far from the planned sample
	planned := effect{0.025, 0.021, 0.029, 0.1} // fixed p 0.01, past it
	for _, tc := range []struct {
		name      string
		primary   effect
		guardrail effect
		decision  Decision
		code      string
	}{
		{"significant before the planned sample", early, harmless, KeepRunning, CodeNeedMoreUsers},
		{"wrong way before the planned sample", effect{-0.05, -0.09, -0.01, 0.1}, harmless, KeepRunning, CodeNeedMoreUsers},
		{"significant at the planned sample", planned, harmless, Validated, CodeWorthShipping},
		{"guardrail breached before the planned sample", early, breach, Invalidated, CodeGuardrailBreached},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := scenario{users: fewUsers, primary: []*Lift{lift(tc.primary)}, guardrail: []*Lift{lift(tc.guardrail)}, settings: &s}
			v := judge(sc.result(), testHypothesis())
			if v.Decision != tc.decision || v.Code != tc.code {
				t.Errorf("verdict %s/%s, want %s/%s: %s", v.Decision, v.Code, tc.decision, tc.code, v.Reason)
			}
			if tc.decision == KeepRunning && (v.RemainingUsers == nil || *v.RemainingUsers <= 0 || !strings.Contains(v.Reason, "fixed-horizon")) {
				t.Errorf("remaining %v, reason %q: want the users to the planned sample and why", v.RemainingUsers, v.Reason)
			}
		})
	}
}

// TestRemainingUsersPlanForTheCorrection: with two treatments the primary
// metric's p-value is corrected over both (Holm), so the sample that gives
// the planned power is the one at α/2 (Bonferroni's bound of Holm's first
// step). Planned at α, the experiment was called inconclusive at a sample
// whose power fell short of the plan (about 71% for a planned 80%).
func TestRemainingUsersPlanForTheCorrection(t *testing.T) {
	const sd, n = 0.4, 2000
	se := sd * math.Sqrt(2.0/n)
	s := DefaultSettings()
	s.Inference = Fixed
	mk := func() *Lift {
		return &Lift{
			Absolute: stats.Effect{Estimate: 0.002, SE: se, PValue: 0.5,
				Interval: stats.Interval{Lower: 0.002 - 1.96*se, Upper: 0.002 + 1.96*se}},
			Relative: &stats.Effect{Estimate: 0.01, PValue: 0.5, Interval: stats.Interval{Lower: -0.1, Upper: 0.12}},
		}
	}
	for _, tc := range []struct {
		correction stats.Correction
		alpha      float64
	}{{stats.Holm, 0.025}, {stats.Bonferroni, 0.025}, {stats.NoCorrection, 0.05}} {
		t.Run(string(tc.correction), func(t *testing.T) {
			s.Correction = tc.correction
			res := scenario{users: []int64{n, n, n}, primary: []*Lift{mk(), mk()}, guardrail: []*Lift{lift(harmless), lift(harmless)}, settings: &s}.result()
			v := judge(res, testHypothesis())
			plan := stats.Plan{Alpha: tc.alpha, Alternative: stats.TwoSided, Power: 0.8, SD: sd, Relative: true, Baseline: baseline, Ratio: 1}
			c, _, err := plan.SampleSize(0.02)
			if err != nil {
				t.Fatal(err)
			}
			want := int64(math.Ceil(3*c)) - 3*n // three arms of equal share
			if v.RemainingUsers == nil || *v.RemainingUsers != want {
				t.Errorf("remaining = %v, want %d (planned at α = %g): %s", v.RemainingUsers, want, tc.alpha, v.Reason)
			}
		})
	}
}

// TestOneSidedLogRatioBounds: a one-sided interval's open side is mirrored
// around the estimate on the scale of its test. A relative effect tested
// as ln(t/c) (Method "log-ratio") is symmetric on the log scale, not on
// the relative one: mirrored there, the upper bound of a lower-is-better
// guardrail's harm under alternative "greater" came out at −16% where the
// test's own bound is +58%, and the guardrail was called ok (harm at most
// its 30% tolerance) on a treatment that may raise errors by half.
//
// Under alternative "less" the open side is the lower one, which the
// relative interval states as −100% (ln(t/c) = −∞) without marking it
// unbounded, and it was not mirrored at all: a higher-is-better
// guardrail's harm reached +100% whatever the data (never shown within a
// tolerance below that), and a lower-is-better primary metric could never
// be found below the minimum effect or the wrong way.
// Reference: z = scipy.stats.norm.ppf(0.95), ln(t/c) ± z·√(Var t/t² + Var c/c²).
func TestOneSidedLogRatioBounds(t *testing.T) {
	const z95, n = 1.6448536269514722, 200
	for _, tc := range []struct {
		name        string
		alt         stats.Alternative
		dir         metric.Direction
		ctrl, trt   int64 // conversions of n
		tolerance   float64
		status      string
		harmUpperAt float64 // the bound of ln(t/c) the harm's upper one is: +z or −z
	}{
		{"greater, lower-is-better", stats.Greater, metric.LowerIsBetter, 6, 3, 0.3, GuardrailUnknown, z95},
		{"less, higher-is-better", stats.Less, metric.HigherIsBetter, 6, 9, 0.5, GuardrailOK, -z95},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stats.DefaultSettings()
			s.Alternative, s.Correction = tc.alt, stats.NoCorrection
			res, err := stats.Analyze(s, stats.Input{
				Variants: []stats.Variant{{Name: "control", Weight: 1, Units: n}, {Name: "treatment", Weight: 1, Units: n}},
				Metrics: []stats.Metric{{Name: "m", Kind: stats.Proportion, LowerIsBetter: tc.dir == metric.LowerIsBetter,
					Summaries: []stats.Summary{stats.ProportionSummary(n, tc.ctrl), stats.ProportionSummary(n, tc.trt)}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			c := res.Metrics[0].Comparisons[0]
			if c.Relative == nil || c.Relative.Method != "log-ratio" || !(c.Relative.Interval.UpperUnbounded || c.Relative.Interval.Lower == -1) {
				t.Fatalf("relative effect %+v: want a one-sided log-ratio test", c.Relative)
			}
			pc, pt := float64(tc.ctrl)/n, float64(tc.trt)/n
			lse := math.Sqrt(pt*(1-pt)/n/(pt*pt) + pc*(1-pc)/n/(pc*pc))
			want := math.Expm1(math.Log(pt/pc) + tc.harmUpperAt*lse)
			if tc.dir == metric.HigherIsBetter {
				want = -want // a fall is harm
			}
			m := &MetricResult{Metric: "m", Direction: tc.dir, Variants: []VariantResult{{}, {Lift: &Lift{Absolute: c.Absolute, Relative: c.Relative}}}}
			g := checkGuardrail(m, Guardrail{Metric: "m", Tolerance: tc.tolerance}, 1, inferred(Fixed), 1)
			if g.Harm == nil || math.Abs(g.Harm.Upper-want) > 1e-9 || g.Status != tc.status {
				t.Errorf("harm %+v, status %s; want the upper bound %.6f (%s at a %g tolerance)", g.Harm, g.Status, want, tc.status, tc.tolerance)
			}
		})
	}
}

// TestVerdictWithoutAPlannedSample: where no planned sample can ever be
// computed (a one-sided alternative against the hypothesis' direction, a
// power no higher than α), the verdict's reason says why and what to do,
// rather than that the remaining users "cannot be estimated yet": with
// fixed inference the verdict waits for the planned sample, so it would
// otherwise wait for ever, implying an answer that does not come. The
// decisions stay those of TestFixedInferenceDecidesAtThePlannedSample; the
// code is no_planned_sample: it was need_more_users, which told a program
// to wait for users that, with fixed inference, never decide, and promised
// a remainingUsers that never comes.
func TestVerdictWithoutAPlannedSample(t *testing.T) {
	decreaseGreater := func(h *Hypothesis, s *Settings) { h.Direction, s.Alternative = Decrease, stats.Greater }
	increaseLess := func(h *Hypothesis, s *Settings) { s.Alternative = stats.Less }
	lowPower := func(h *Hypothesis, s *Settings) { s.Alpha, h.Power = 0.5, 0.4 }
	up, down := effect{0.05, 0.01, 0.09, 0.1}, effect{-0.05, -0.09, -0.01, 0.1}
	for _, tc := range []struct {
		name      string
		inference Inference
		edit      func(*Hypothesis, *Settings)
		primary   effect
		reason    []string
	}{
		{"fixed, greater against a decrease", Fixed, decreaseGreater, down,
			[]string{`alternative is "greater"`, "decrease", `"two-sided" or "less"`, "will not decide", "inference=sequential"}},
		{"fixed, less against an increase", Fixed, increaseLess, up,
			[]string{`alternative is "less"`, "increase", `"two-sided" or "greater"`, "will not decide"}},
		{"fixed, power below alpha", Fixed, lowPower, up,
			[]string{"power 0.4 is not above this analysis' α 0.5", "set a lower alpha", "will not decide"}},
		{"sequential, greater against a decrease", Sequential, decreaseGreater, effect{-0.01, -0.05, 0.03, 0.6},
			[]string{`alternative is "greater"`, `"two-sided" or "less"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, h := DefaultSettings(), testHypothesis()
			s.Inference = tc.inference
			tc.edit(h, &s)
			sc := scenario{users: fewUsers, primary: []*Lift{lift(tc.primary)}, guardrail: []*Lift{lift(harmless)}, settings: &s}
			v := judge(sc.result(), h)
			if v.Decision != KeepRunning || v.Code != CodeNoPlannedSample || v.RemainingUsers != nil {
				t.Errorf("verdict %s/%s, remaining %v, want keep_running/no_planned_sample without an estimate: %s", v.Decision, v.Code, v.RemainingUsers, v.Reason)
			}
			for _, want := range tc.reason {
				if !strings.Contains(v.Reason, want) {
					t.Errorf("reason %q lacks %q", v.Reason, want)
				}
			}
			if strings.Contains(v.Reason, "cannot be estimated yet") || tc.inference == Fixed && strings.Contains(v.Reason, "yet") {
				t.Errorf("reason %q implies a planned sample, or a decision, will come", v.Reason)
			}
		})
	}
}

// TestVerdictWithoutAPlannedSampleYet: where the data, not the settings,
// give no planned sample (a control mean of zero for a relative effect,
// which CUPED's adjusted mean can be where the raw one is not; a spread
// that is not finite), more data may give one, so the verdict keeps its
// code (need_more_users) and says the estimate cannot be made yet, and
// why. It was no_planned_sample, whose reason ("no planned sample can be
// computed", and with fixed inference "will not decide") was untrue.
func TestVerdictWithoutAPlannedSampleYet(t *testing.T) {
	zeroMean := func(r *Result) { r.Metrics[0].Variants[0].AdjustedMean = ptr(0.0) }
	infiniteSD := func(r *Result) {
		inf := math.Inf(1) // ptr would give nil
		for i := range r.Metrics[0].Variants {
			r.Metrics[0].Variants[i].SE = &inf
		}
	}
	for _, tc := range []struct {
		name      string
		inference Inference
		edit      func(*Result)
		want      string
	}{
		{"fixed, zero control mean", Fixed, zeroMean, "baseline"},
		{"sequential, zero control mean", Sequential, zeroMean, "baseline"},
		{"fixed, infinite spread", Fixed, infiniteSD, "sd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, h := DefaultSettings(), testHypothesis()
			s.Inference = tc.inference
			sc := scenario{users: fewUsers, primary: []*Lift{lift(flat)}, guardrail: []*Lift{lift(harmless)}, settings: &s}
			res := sc.result()
			tc.edit(res)
			v := judge(res, h)
			if v.Decision != KeepRunning || v.Code != CodeNeedMoreUsers || v.RemainingUsers != nil {
				t.Errorf("verdict %s/%s, remaining %v, want keep_running/need_more_users without an estimate: %s", v.Decision, v.Code, v.RemainingUsers, v.Reason)
			}
			for _, want := range []string{"cannot be estimated yet from these data", tc.want} {
				if !strings.Contains(v.Reason, want) {
					t.Errorf("reason %q lacks %q", v.Reason, want)
				}
			}
			if strings.Contains(v.Reason, "no planned sample can be computed") || strings.Contains(v.Reason, "will not decide") {
				t.Errorf("reason %q says no planned sample will ever come", v.Reason)
			}
		})
	}
}

// TestOverallRemainingUsersMatchReason: with several treatments kept
// running, the overall verdict's remainingUsers is the largest of theirs
// (every treatment needs its users to decide), and its reason is that
// treatment's, so that the two say the same number. It took the first
// treatment's reason ("about 2,345 more users") beside another's larger
// remainingUsers.
func TestOverallRemainingUsersMatchReason(t *testing.T) {
	wide := effect{0.01, -0.06, 0.08, 0.7} // more users to decide than flat
	for _, order := range [][]*Lift{{lift(flat), lift(wide)}, {lift(wide), lift(flat)}} {
		sc := scenario{users: []int64{1000, 1000, 1000}, primary: order, guardrail: []*Lift{lift(harmless), lift(harmless)}}
		v := judge(sc.result(), testHypothesis())
		if v.Decision != KeepRunning || v.RemainingUsers == nil || len(v.Variants) != 2 {
			t.Fatalf("verdict %s, remaining %v: want keep running with an estimate: %s", v.Decision, v.RemainingUsers, v.Reason)
		}
		a, b := v.Variants[0].RemainingUsers, v.Variants[1].RemainingUsers
		if a == nil || b == nil || *a == *b {
			t.Fatalf("remaining users %v and %v: want two different estimates, or the test tests nothing", a, b)
		}
		if n := max(*a, *b); *v.RemainingUsers != n {
			t.Errorf("remaining users %d, want the largest, %d", *v.RemainingUsers, n)
		}
		if want := valueloop.Count(*v.RemainingUsers, "more user"); !strings.Contains(v.Reason, want) {
			t.Errorf("reason %q does not say the remaining users, %s", v.Reason, want)
		}
	}
}

// TestVerdictReadsTheDecidingTest: under each inference the verdict's
// effect bounds and the p-value its reason quotes are those of
// Inference.Deciding, the test the dashboard and the CLI show (see
// TestEveryViewShowsTheDecidingTest in cmd/valueloop for the views).
func TestVerdictReadsTheDecidingTest(t *testing.T) {
	e := stats.Effect{Interval: stats.Interval{Lower: 1, Upper: 2}, PValue: 0.1, AdjustedPValue: 0.2,
		Sequential: stats.Interval{Lower: 3, Upper: 4}, SequentialPValue: 0.3, AdjustedSequentialPValue: 0.4}
	if got, want := Fixed.Deciding(e), (Test{e.Interval, 0.1, 0.2}); got != want {
		t.Errorf("fixed: %+v, want the fixed-horizon test %+v", got, want)
	}
	if got, want := Sequential.Deciding(e), (Test{e.Sequential, 0.3, 0.4}); got != want {
		t.Errorf("sequential: %+v, want the always-valid test %+v", got, want)
	}
	past := effect{0.025, 0.021, 0.029, 0.01} // past the planned sample: fixed inference decides
	for _, inf := range []Inference{Sequential, Fixed} {
		s := DefaultSettings()
		s.Inference, s.Correction = inf, stats.NoCorrection
		res := scenario{users: fewUsers, primary: []*Lift{lift(past)}, guardrail: []*Lift{lift(harmless)}, settings: &s}.result()
		v := judge(res, testHypothesis())
		test := inf.Deciding(*res.Metrics[0].Variants[1].Lift.Relative)
		e := v.Variants[0].Effect
		if e == nil || e.Lower != test.Interval.Lower || e.Upper != test.Interval.Upper {
			t.Errorf("%s: verdict effect %+v, want the deciding interval %v", inf, e, test.Interval)
		}
		if want := "p = " + valueloop.FormatP(test.PValue) + " <"; !strings.Contains(v.Reason, want) {
			t.Errorf("%s: reason %q lacks the deciding p, %q", inf, v.Reason, want)
		}
	}
}
