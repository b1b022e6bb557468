package main

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/stats"
)

// TestResultsFitTheTerminal: the results tables were 96 to 99 cells wide
// whatever the terminal: on an 80-column one every treatment row wrapped
// into the next. A table now fits the width: its bars narrow, and are left
// out where even a narrow one would not fit; the figures stay. Without a
// width (a file, a pipe) the bars are drawn whole.
func TestResultsFitTheTerminal(t *testing.T) {
	control, treatment := 0.3791, 0.4621
	lift := stats.Effect{Estimate: 0.219, Interval: stats.Interval{Lower: 0.13, Upper: 0.308}, Sequential: stats.Interval{Lower: 0.077, Upper: 0.361}, SequentialPValue: 0.0003, AdjustedSequentialPValue: 0.002}
	m := experiment.MetricResult{Metric: "onboarding-completed", Kind: "conversion", Analysis: stats.Proportion, Direction: "higher", Variants: []experiment.VariantResult{
		{Variant: "control", Control: true, Users: 2063, Status: stats.OK, Mean: &control},
		{Variant: "treatment", Users: 1937, Status: stats.OK, Mean: &treatment, Lift: &experiment.Lift{Absolute: lift, Relative: &lift, ChanceToWin: 1}},
	}}
	r := &experiment.Result{Flag: "f", Environment: "production", Metrics: []experiment.MetricResult{m}}
	r.Settings.Settings = stats.DefaultSettings()
	for _, c := range []struct {
		cols     int
		bar      bool
		barCells int // of ─ and the marks, when drawn
	}{{0, true, 25}, {120, true, 25}, {90, true, 0}, {80, false, 0}, {72, false, 0}} {
		var b strings.Builder
		writeResultsFit(&b, r, c.cols)
		out := b.String()
		table := fits(t, out, "  VARIANT", "\nSRM", c.cols)
		if got := strings.Contains(table, "●"); got != c.bar {
			t.Errorf("%d columns: bar drawn %v, want %v:\n%s", c.cols, got, c.bar, table)
		}
		if !strings.Contains(table, "+21.9% [+7.7%, +36.1%]") || !strings.Contains(table, "3e-04") {
			t.Errorf("%d columns: the figures are cut:\n%s", c.cols, table)
		}
		if c.barCells > 0 && !strings.Contains(table, "│  ├───●────┤") || c.barCells == 0 && c.bar && !strings.Contains(table, "├") {
			t.Errorf("%d columns: want the whole bar:\n%s", c.cols, table)
		}
	}
}

// TestOutputWidth: the width is asked of the terminal, else COLUMNS; a
// pipe without COLUMNS has none.
func TestOutputWidth(t *testing.T) {
	for cols, want := range map[string]int{"": 0, "72": 72, "x": 0} {
		e := &cliEnv{stdout: &strings.Builder{}, getenv: envMap(map[string]string{"COLUMNS": cols})}
		if got := outputWidth(e); got != want {
			t.Errorf("COLUMNS=%q: %d, want %d", cols, got, want)
		}
	}
}

// TestRolloutStatusFitsTheTerminal: the guardrail table was 110 cells wide
// whatever the terminal; it narrows its chart to fit, or leaves it out with
// its legend.
func TestRolloutStatusFitsTheTerminal(t *testing.T) {
	st := &rollout.Status{Rollout: rollout.Rollout{ID: 1, Environment: "production", State: rollout.Running, Percent: 5,
		Plan: rollout.Plan{Flag: "checkout-flow", Variant: "one-page", Baseline: "classic", Steps: []rollout.Step{{Percent: 5}, {Percent: 100}}}},
		Guardrails: []rollout.GuardrailResult{{Metric: "checkout-errors", Direction: metric.LowerIsBetter, Tolerance: 0.05, Status: "no_harm_detected",
			Change: 0.07, Interval: stats.Interval{Lower: -0.364, Upper: 0.505}}}}
	for _, c := range []struct {
		cols int
		bar  bool
	}{{0, true}, {100, true}, {80, false}} {
		var b strings.Builder
		writeRolloutStatusFit(&b, st, c.cols)
		out := b.String()
		table := fits(t, out, "  GUARDRAIL", "  (relative", c.cols)
		if strings.Contains(table, "●") != c.bar || strings.Contains(out, "● estimate") != c.bar {
			t.Errorf("%d columns: want the chart and its legend %v:\n%s", c.cols, c.bar, out)
		}
		if !strings.Contains(table, "+7.0%   [-36.4%, +50.5%]") || !strings.Contains(table, "no harm detected") {
			t.Errorf("%d columns: the figures are cut:\n%s", c.cols, table)
		}
	}
}

// fits returns the table of out from the line starting from to the text
// to, after checking that no line of it is wider than cols (0: no limit).
func fits(t *testing.T, out, from, to string, cols int) string {
	t.Helper()
	table := section(t, out, from, to)
	for _, line := range strings.Split(table, "\n") {
		if n := utf8.RuneCountInString(line); cols > 0 && n > cols {
			t.Errorf("%d columns: a line of %d:\n%s", cols, n, table)
		}
	}
	return table
}
