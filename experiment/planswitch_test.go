package experiment

import (
	"math"
	"testing"

	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// TestPlanSwitchesAtTheAnalysisAlpha: a verdict's plan of a relative
// decrease of a conversion plans the test the analysis runs at the planned
// sample, the delta method's or the log ratio's, which the analysis
// chooses at its own α (Settings.Alpha), not at the plan's share of it.
// Two treatments corrected by Holm are planned at α/2 = 0.025, and the
// plan chose the test at 0.025 too: −50% of a 10% rate came out at 474
// users per arm, the log ratio's sample, where the analysis at α = 0.05
// runs the delta method, which needs fewer. The same under sequential
// inference, whose plan α is the confidence sequence's tail now.
func TestPlanSwitchesAtTheAnalysisAlpha(t *testing.T) {
	const n, pc, effect = 1000, 0.1, -0.5
	for _, tc := range []struct {
		name      string
		inference Inference
		share     float64
	}{
		{"fixed, two treatments", Fixed, 0.5},
		{"fixed, five treatments", Fixed, 0.2},
		{"sequential, one treatment", Sequential, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Settings{Settings: stats.Settings{Alpha: 0.05, Alternative: stats.TwoSided, SequentialTuning: 10000, Correction: stats.NoCorrection}, Inference: tc.inference}
			// The pilot's spreads: the treatment's at the alternative's rate.
			pt := pc * (1 + effect)
			ctrlSE, trtSE := math.Sqrt(pc*(1-pc)/n), math.Sqrt(pt*(1-pt)/n)
			se := math.Hypot(ctrlSE, trtSE)
			mean := pc
			// The sequential interval the plan's α is read from: the
			// confidence sequence's half-width at 2n users.
			seq := se * 4
			res := &Result{Settings: s, Variants: []Variant{{Name: "control", Users: n, Share: 0.5}, {Name: "b", Users: n, Share: 0.5}}}
			pm := &MetricResult{Kind: metric.Conversion, Variants: []VariantResult{
				{Variant: "control", Users: n, AdjustedMean: &mean, SE: &ctrlSE},
				{Variant: "b", Users: n, AdjustedMean: &mean, SE: &trtSE, Lift: &Lift{Absolute: stats.Effect{SE: se, Sequential: stats.Interval{Lower: -seq, Upper: seq}}}},
			}}
			sz, err := sizeTest(res, &Hypothesis{Power: 0.8}, pm, 1, effect, false, stats.TwoSided, tc.share)
			if err != nil {
				t.Fatal(err)
			}
			nc, _, err := sz.plan.SampleSize(effect)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("planned %.1f users per arm at α %.3g", nc, sz.plan.Alpha)
			// Just below the planned sample the test the analysis runs
			// there must still lack the power, or fewer users would do.
			m := int64(0.98 * nc)
			out, err := stats.Analyze(s.Settings, stats.Input{
				Variants: []stats.Variant{{Name: "control", Weight: 1, Units: m}, {Name: "b", Weight: 1, Units: m}},
				Metrics: []stats.Metric{{Name: "signup", Kind: stats.Proportion, Summaries: []stats.Summary{
					stats.ProportionSummary(m, int64(math.Round(pc*float64(m)))),
					stats.ProportionSummary(m, int64(math.Round(pt*float64(m)))),
				}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if method := out.Metrics[0].Comparisons[0].Relative.Method; method == "delta" {
				delta := sz.plan
				delta.NonNegative = false
				if pw, err := delta.PowerAt(effect, float64(m)); err != nil || pw >= sz.plan.Power {
					t.Errorf("planned %.1f users per arm at α %.3g, but at %d the analysis runs the delta method's test, whose power is %.3f already (%v)", nc, sz.plan.Alpha, m, pw, err)
				}
			}
		})
	}
}
