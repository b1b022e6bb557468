package experiment

import (
	"math"
	"testing"

	"github.com/valueloop/valueloop/stats"
)

// TestFixedInferenceSwitchesOnTheFixedInterval: a conversion halving from
// about 10% on 200 users per arm. Its delta-method interval at the fixed
// horizon stays above −100%, the confidence sequence's (multiplier about 5
// at 400 users) does not. Under fixed inference the sequence decides
// nothing, so the relative effect keeps the delta method; it switched to
// the log ratio because the sequence reached below −100%, and its p-value
// then depended on sequentialTuning, which fixed inference does not use.
// Under sequential inference the switch stays.
func TestFixedInferenceSwitchesOnTheFixedInterval(t *testing.T) {
	ms := testMetrics()
	aggs := simulate(t, 3, "onboarding", ms, []arm{{name: "control", users: 200, signup: 0.10}, {name: "treatment", users: 200, signup: 0.05}})
	for _, tc := range []struct {
		inf  Inference
		want string
	}{{Fixed, "delta"}, {Sequential, "log-ratio"}} {
		var pValues []float64
		for _, tuning := range []float64{400, 10000} {
			s := inferred(tc.inf)
			s.CUPED, s.SequentialTuning = false, tuning
			res, err := Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: aggs, Settings: s})
			if err != nil {
				t.Fatal(err)
			}
			var m MetricResult
			for _, mr := range res.Metrics {
				if mr.Metric == "signup" {
					m = mr
				}
			}
			ctl, trt := m.Variants[0], m.Variants[1]
			if m.Metric != "signup" || ctl.Variant != "control" || trt.Variant != "treatment" || trt.Lift == nil || trt.Lift.Relative == nil {
				t.Fatalf("want signup's treatment against control with a relative effect, got %s %+v", m.Metric, m.Variants)
			}
			// The delta method's figures, as the analysis computes them.
			pc, pt, nc, nt := *ctl.Mean, *trt.Mean, float64(ctl.Users), float64(trt.Users)
			r := (pt - pc) / pc
			rse := math.Sqrt(pt*(1-pt)/nt/(pc*pc) + pt*pt*pc*(1-pc)/nc/(pc*pc*pc*pc))
			seq := stats.SequentialMultiplier(0.05, tuning, nc+nt)
			if !(r-1.96*rse > -1 && r-seq*rse < -1) {
				t.Fatalf("the data are not the case: relative %v, SE %v, fixed lower %v, sequential lower %v", r, rse, r-1.96*rse, r-seq*rse)
			}
			e := trt.Lift.Relative
			if e.Method != tc.want {
				t.Errorf("%s inference, tuning %v: method %q, want %q", tc.inf, tuning, e.Method, tc.want)
			}
			t.Logf("%s inference, sequentialTuning %v: relative %.3f, %s, p = %.3g", tc.inf, tuning, e.Estimate, e.Method, e.PValue)
			pValues = append(pValues, e.PValue)
		}
		if tc.inf == Fixed && pValues[0] != pValues[1] {
			t.Errorf("fixed inference: the relative p-value is %v at sequentialTuning 400 and %v at 10000; the sequence decides nothing there", pValues[0], pValues[1])
		}
	}
}
