package main

import (
	"strings"
	"testing"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/stats"
)

// TestResultsNumbersReadable: the means of a table are written alike, with
// the same significant digits (12.04 beside 11.80, not 11.8), and large
// figures in digits, not in exponent notation: before, a revenue mean of
// 12,345.68 read "1.235e+04" and an absolute lift of 1,234.5 "+1.23e+03".
// Lifts keep the verdict's style below 1,000: -0.24, not -0.240.
func TestResultsNumbersReadable(t *testing.T) {
	for _, tc := range []struct {
		control, treatment float64
		lift               stats.Effect
		want               []string
	}{
		{12.04, 11.8, stats.Effect{Estimate: -0.24, Interval: stats.Interval{Lower: -0.5, Upper: 0.02}, Sequential: stats.Interval{Lower: -0.61, Upper: 0.13}},
			[]string{"  12.04  ", "  11.80  ", "-0.24 [-0.61, +0.13]"}},
		{12345.678, 13580.2, stats.Effect{Estimate: 1234.52, Interval: stats.Interval{Lower: 200, Upper: 2269.1}, Sequential: stats.Interval{Lower: -300.2, Upper: 2769.1}},
			[]string{"  12,346  ", "  13,580  ", "+1,235 [-300, +2,769]", "-2,769", "+2,769  "}},
	} {
		tc.lift.SequentialPValue, tc.lift.AdjustedSequentialPValue = 0.2, 0.2
		m := experiment.MetricResult{Metric: "revenue", Kind: "sum", Analysis: stats.Mean, Direction: "higher", Variants: []experiment.VariantResult{
			{Variant: "control", Control: true, Users: 1000, Status: stats.OK, Mean: &tc.control},
			{Variant: "treatment", Users: 1000, Status: stats.OK, Mean: &tc.treatment, Lift: &experiment.Lift{Absolute: tc.lift}},
		}}
		r := &experiment.Result{Flag: "f", Environment: "production", Metrics: []experiment.MetricResult{m}}
		r.Settings.Settings = stats.DefaultSettings()
		var b strings.Builder
		writeResults(&b, r)
		out := b.String()
		for _, want := range tc.want {
			if !strings.Contains(out, want) {
				t.Errorf("means %g, %g: the table lacks %q:\n%s", tc.control, tc.treatment, want, out)
			}
		}
		if strings.Contains(out, "e+0") {
			t.Errorf("means %g, %g: a figure in exponent notation:\n%s", tc.control, tc.treatment, out)
		}
	}
}
