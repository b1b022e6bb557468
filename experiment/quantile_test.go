package experiment

import (
	"testing"

	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// TestQuantileMetricResults: a p90 of the users' order values through the
// real aggregation: analysed as a quantile, with a lift when the treatment
// spends more, none in an A/A.
func TestQuantileMetricResults(t *testing.T) {
	ms := testMetrics()
	p90 := metric.Metric{Key: "order-value-p90", Kind: metric.Quantile, Event: "purchase", Quantile: 0.9}
	if err := p90.Normalize(); err != nil {
		t.Fatal(err)
	}
	ms = append(ms, p90)
	aggs := simulate(t, 21, "onboarding", ms, []arm{{name: "control", users: 3000, signup: 0.6, spend: 0}, {name: "treatment", users: 3000, signup: 0.6, spend: 8}})
	res, err := Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: aggs, Settings: DefaultSettings(), Only: []string{p90.Key}})
	if err != nil {
		t.Fatal(err)
	}
	mr := res.Metrics[0]
	if mr.Analysis != stats.Quantile || mr.CUPED {
		t.Errorf("analysis %s, CUPED %v; want a quantile without CUPED", mr.Analysis, mr.CUPED)
	}
	c, tr := mr.Variants[0], mr.Variants[1]
	// The users' mean order value after exposure is taste (20 ± 10) plus
	// spend: its p90 is about 20 + 1.28·10 ≈ 33 for control.
	if c.Mean == nil || *c.Mean < 28 || *c.Mean > 38 || tr.Lift == nil {
		t.Fatalf("control p90 %v, treatment %+v", c.Mean, tr)
	}
	if d := tr.Lift.Absolute; d.Interval.Lower <= 0 || d.Estimate < 4 || d.Estimate > 12 {
		t.Errorf("p90 difference %v %v, want about +8", d.Estimate, d.Interval)
	}
	aa := simulate(t, 22, "onboarding", ms, []arm{{name: "control", users: 3000, signup: 0.6}, {name: "treatment", users: 3000, signup: 0.6}})
	res, err = Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: aa, Settings: DefaultSettings(), Only: []string{p90.Key}})
	if err != nil {
		t.Fatal(err)
	}
	if l := res.Metrics[0].Variants[1].Lift; l == nil || !l.Absolute.Sequential.Contains(0) {
		t.Errorf("A/A p90 lift %+v, want an interval around 0", l)
	}
}
