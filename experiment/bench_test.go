package experiment

import (
	"testing"
)

// BenchmarkResults is a full result for 5 metrics × 3 variants from the
// stored aggregates (exact sums converted to summaries, the statistics with
// CUPED and Holm's correction, the verdict with its remaining-users plan);
// budget 100 µs. Measured figures are in docs/experiments.md.
func BenchmarkResults(b *testing.B) {
	ms := testMetrics()
	aggs := simulate(b, 5, "onboarding", ms, []arm{
		{name: "control", users: 2000, signup: 0.3, tickets: 0.1},
		{name: "treatment", users: 2000, signup: 0.32, spend: 1, tickets: 0.1},
		{name: "staff", users: 2000, signup: 0.31, tickets: 0.1},
	})
	flag := testFlag()
	flag.Targeting = nil // equal weights over the three variants
	h := NewHypothesis()
	h.PrimaryMetric, h.MinimumEffect = "signup", 0.05
	h.Guardrails = []Guardrail{{Metric: "tickets", Tolerance: 0.1}}
	in := Input{Flag: "onboarding", Definition: flag, Metrics: ms, Aggregates: aggs, Hypothesis: h, Settings: h.Settings}
	res, err := Analyze(in)
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Metrics) != 5 || len(res.Variants) != 3 || res.Verdict == nil {
		b.Fatalf("benchmark result has %d metrics, %d variants, verdict %v", len(res.Metrics), len(res.Variants), res.Verdict)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Analyze(in); err != nil {
			b.Fatal(err)
		}
	}
}
