package experiment

import (
	"math/rand/v2"
	"testing"

	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// TestGuardrailFalseOKRate simulates experiments whose guardrail harm
// equals its tolerance exactly: non-inferiority ("ok") may be claimed in at
// most α of them, with either kind of inference.
func TestGuardrailFalseOKRate(t *testing.T) {
	const runs, n, tol = 2000, 400, 0.05
	for _, inf := range []Inference{Fixed, Sequential} {
		t.Run(string(inf), func(t *testing.T) {
			r := rand.New(rand.NewPCG(42, 15))
			s := DefaultSettings()
			s.Inference, s.CUPED, s.Correction = inf, false, stats.NoCorrection
			ok := 0
			for range runs {
				var k, tr stats.Summary
				for range n {
					k.Add(10+3*r.NormFloat64(), 0, 0)
					tr.Add(10*(1+tol)+3*r.NormFloat64(), 0, 0) // lower is better: harm = +5%
				}
				res, err := stats.Analyze(s.Settings, stats.Input{
					Variants: []stats.Variant{{Name: "control", Weight: 1, Units: n}, {Name: "treatment", Weight: 1, Units: n}},
					Metrics:  []stats.Metric{{Name: "latency", Kind: stats.Mean, Summaries: []stats.Summary{k, tr}}},
				})
				if err != nil {
					t.Fatal(err)
				}
				c := res.Metrics[0].Comparisons[0]
				m := &MetricResult{Metric: "latency", Direction: metric.LowerIsBetter, Variants: []VariantResult{{}, {Lift: &Lift{Absolute: c.Absolute, Relative: c.Relative}}}}
				if checkGuardrail(m, Guardrail{Metric: "latency", Tolerance: tol}, 1, s, 1).Status == GuardrailOK {
					ok++
				}
			}
			if rate := float64(ok) / runs; rate > s.Alpha {
				t.Errorf("false ok rate = %.4f, want at most α = %g", rate, s.Alpha)
			} else {
				t.Logf("false ok rate %.4f over %d runs", rate, runs)
			}
		})
	}
}
