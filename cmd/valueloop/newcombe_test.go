package main

import (
	"strings"
	"testing"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/stats"
)

// TestNewcombeIntervalNamed: a conversion of 0% in control and 100% in the
// treatment has Newcombe's interval, not the usual Wald one; the table's
// note says which interval it is and why there is no sequential one.
func TestNewcombeIntervalNamed(t *testing.T) {
	res, err := stats.Analyze(stats.DefaultSettings(), stats.Input{
		Variants: []stats.Variant{{Name: "control", Weight: 1, Units: 40}, {Name: "treatment", Weight: 1, Units: 30}},
		Metrics:  []stats.Metric{{Name: "m", Kind: stats.Proportion, Summaries: []stats.Summary{stats.ProportionSummary(40, 0), stats.ProportionSummary(30, 30)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Metrics[0].Comparisons[0]
	zero, one := 0.0, 1.0
	m := experiment.MetricResult{Metric: "signup", Kind: "conversion", Analysis: stats.Proportion, Direction: "higher", Variants: []experiment.VariantResult{
		{Variant: "control", Control: true, Users: 40, Status: stats.OK, Mean: &zero},
		{Variant: "treatment", Users: 30, Status: stats.OK, Mean: &one, Lift: &experiment.Lift{Absolute: c.Absolute, PValue: c.PValue, AdjustedPValue: c.AdjustedPValue,
			SequentialPValue: c.SequentialPValue, AdjustedSequentialPValue: c.AdjustedSequentialPValue, ChanceToWin: c.ChanceToBeat}},
	}}
	r := &experiment.Result{Flag: "f", Environment: "production", Metrics: []experiment.MetricResult{m}}
	r.Settings.Settings = stats.DefaultSettings()
	var b strings.Builder
	writeResultsFit(&b, r, 80)
	for _, want := range []string{"note: treatment: every unit converted in the treatment and none in control", "Newcombe's hybrid score interval", "the sequential interval is the score test's"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the result lacks %q:\n%s", want, b.String())
		}
	}
}
