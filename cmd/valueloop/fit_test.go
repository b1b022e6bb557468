package main

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/stats"
	"github.com/valueloop/valueloop/termchart"
)

// TestResultsFitTheTerminal: the results tables were 96 to 99 cells wide
// whatever the terminal: on an 80-column one every treatment row wrapped
// into the next. A table now fits the width: its bars narrow; where even a
// narrow one would not fit, the table keeps its figures and the bars are
// drawn under it, one labelled line per treatment below an axis (they were
// left out, and a standard terminal never showed one). Without a width (a
// file, a pipe) the bars are drawn whole in the table.
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
		cols  int
		inRow bool   // the bar drawn in the treatment's row
		whole string // the whole 25-cell bar, where it is drawn so
	}{{0, true, "│  ├───●────┤"}, {120, true, "│  ├───●────┤"}, {90, true, ""}, {80, false, "│  ├───●────┤"}, {72, false, "│  ├───●────┤"}, {60, false, "│  ├───●────┤"}} {
		var b strings.Builder
		writeResultsFit(&b, r, c.cols)
		out := b.String()
		// Below 73 columns the figures alone are wider: the bars fit.
		table := section(t, out, "  VARIANT", "\nSRM")
		fits(t, out, expIf(c.cols >= 73 || c.cols == 0, "  VARIANT", "\n  LIFT "), "\nSRM", c.cols)
		row := section(t, table, "  treatment", "\n")
		if got := strings.Contains(row, "●"); got != c.inRow {
			t.Errorf("%d columns: bar in the row %v, want %v:\n%s", c.cols, got, c.inRow, table)
		}
		if !strings.Contains(row, "+21.9% [+7.7%, +36.1%]") || !strings.Contains(row, "3e-04") {
			t.Errorf("%d columns: the figures are cut:\n%s", c.cols, table)
		}
		if c.whole != "" && !strings.Contains(table, c.whole) || c.whole == "" && !strings.Contains(row, "├") {
			t.Errorf("%d columns: want the whole bar:\n%s", c.cols, table)
		}
		if !c.inRow && !strings.Contains(table, "\n\n  LIFT       -36.1%      0      +36.1%\n  treatment              │  ├───●────┤\n") {
			t.Errorf("%d columns: want the bar under the table, labelled, on its axis:\n%s", c.cols, table)
		}
	}
}

// TestReasonKeepsTheTableNarrow: a row without a lift says why in a cell
// no wider than the LIFT column's head, and the whole reason follows the
// table as a note, once for every row it is of; it stood in the cell whole,
// and the demo's checkout-errors table was 96 cells wide at 80 columns.
func TestReasonKeepsTheTableNarrow(t *testing.T) {
	zero := 0.0
	why := "not enough data: the metric does not vary in either arm"
	m := experiment.MetricResult{Metric: "checkout-errors", Kind: "conversion", Analysis: stats.Proportion, Direction: "lower", Variants: []experiment.VariantResult{
		{Variant: "control", Control: true, Users: 2063, Status: stats.OK, Mean: &zero},
		{Variant: "treatment", Users: 1937, Status: stats.NotEnoughData, Mean: &zero, Reason: why},
	}}
	r := &experiment.Result{Flag: "f", Environment: "production", Metrics: []experiment.MetricResult{m},
		Dimension: &experiment.DimensionSplit{Dimension: "platform", Slices: []experiment.Slice{
			{Value: "ios", Users: 1267, Metrics: []experiment.MetricResult{m}},
			{Value: "web", Users: 1267, Metrics: []experiment.MetricResult{m}},
			{Value: "tv", Users: 3, Reason: "not enough data: need at least 2 users in every variant, have 1 in control"},
		}}}
	r.Settings.Settings = stats.DefaultSettings()
	for _, cols := range []int{0, 80, 100} { // below 80 the figures alone are wider
		var b strings.Builder
		writeResultsFit(&b, r, cols)
		out := b.String()
		for _, c := range []struct{ from, to, row, note string }{
			{"  VARIANT", "\nSRM", "  treatment  1,937  0     not enough data\n", "  note: treatment: " + why + "\n"},
			{"  PLATFORM", "\n\n", "  web       1,267  treatment  not enough data", "  note: ios treatment, web treatment: " + why + "\n"},
		} {
			table := section(t, out, c.from, c.to)
			head := strings.SplitN(table, "\n", 2)[0]
			for line := range strings.Lines(table) {
				if strings.HasPrefix(line, "  note: ") {
					continue
				}
				if n := termchart.Cells(strings.TrimSuffix(line, "\n")); n > termchart.Cells(head) || cols > 0 && n > cols {
					t.Errorf("%d columns: %q is %d cells, wider than its head (%d):\n%s", cols, line, n, termchart.Cells(head), table)
				}
			}
			if !strings.Contains(table, c.row) || !strings.Contains(table, c.note) {
				t.Errorf("%d columns: want the row %q and the note %q:\n%s", cols, c.row, c.note, table)
			}
		}
		if !strings.Contains(out, "  note: tv: not enough data: need at least 2 users") {
			t.Errorf("%d columns: the slice's reason is not in a note:\n%s", cols, out)
		}
	}
}

// TestChartsAtEightyColumns: at COLUMNS=80 (and 60) experiment results,
// with and without a dimension, and rollout status draw as many interval
// charts as without a width, and their tables and charts fit. At 80 they
// drew none: the figures alone were ~73 cells, and a chart narrower than
// minChart was left out.
func TestChartsAtEightyColumns(t *testing.T) {
	s := MustServe(t, "", "--demo")
	charts := func(out string) int {
		n := 0
		for line := range strings.Lines(out) {
			if strings.Contains(line, "●") && !strings.Contains(line, "● estimate") && !strings.HasPrefix(line, "  steps ") {
				n++
			}
		}
		return n
	}
	for _, args := range [][]string{
		{"experiment", "results", "new-onboarding", "--env", "production"},
		{"experiment", "results", "new-onboarding", "--env", "production", "--dimension", "platform"},
		{"rollout", "status", "checkout-flow", "--env", "production"},
	} {
		want := charts(s.cliColumns(t, "", args...))
		if want == 0 {
			t.Fatalf("%v draws no chart without a width", args)
		}
		for _, cols := range []int{80, 60} {
			out := s.cliColumns(t, strconv.Itoa(cols), args...)
			if got := charts(out); got != want {
				t.Errorf("%v at COLUMNS=%d: %d charts, want %d as without a width:\n%s", args, cols, got, want, out)
			}
			for line := range strings.Lines(out) {
				// At 80 the tables and charts fit, at 60 the charts (the
				// figures alone are wider); prose (hypotheses, warnings,
				// verdicts) wraps as the terminal wraps it.
				table := strings.HasPrefix(line, "  ") && strings.ContainsAny(line, "│┼●├┤█[") && !strings.Contains(line, ":")
				chart := strings.Contains(line, "●") || strings.HasPrefix(line, "  LIFT ") || strings.HasPrefix(line, "  CHANGE ") || strings.HasPrefix(line, "  progress ")
				if n := utf8.RuneCountInString(strings.TrimRight(line, "\n")); n > cols && (chart || cols == 80 && table) {
					t.Errorf("%v at COLUMNS=%d: a line of %d: %q", args, cols, n, line)
				}
			}
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
// whatever the terminal; it narrows its chart to fit, or draws it under
// the table, labelled with the guardrail, with its legend wrapped to fit
// (it was left out with its legend).
func TestRolloutStatusFitsTheTerminal(t *testing.T) {
	st := &rollout.Status{Rollout: rollout.Rollout{ID: 1, Environment: "production", State: rollout.Running, Percent: 5,
		Plan: rollout.Plan{Flag: "checkout-flow", Variant: "one-page", Baseline: "classic", Steps: []rollout.Step{{Percent: 5}, {Percent: 100}}}},
		Guardrails: []rollout.GuardrailResult{{Metric: "checkout-errors", Direction: metric.LowerIsBetter, Tolerance: 0.05, Status: "no_harm_detected",
			Change: 0.07, Interval: stats.Interval{Lower: -0.364, Upper: 0.505}}}}
	for _, c := range []struct {
		cols  int
		inRow bool
	}{{0, true}, {100, true}, {80, false}, {60, false}} {
		var b strings.Builder
		writeRolloutStatusFit(&b, st, c.cols)
		out := b.String()
		// Below 80 columns the figures alone are wider: the chart fits.
		table := section(t, out, "  progress", "\n\nHISTORY")
		fits(t, out, expIf(c.cols >= 80 || c.cols == 0, "  progress", "\n  CHANGE "), "\n\nHISTORY", c.cols)
		row := section(t, table, "  checkout-errors", "\n")
		if strings.Contains(row, "●") != c.inRow || !strings.Contains(out, "● estimate") {
			t.Errorf("%d columns: want the chart in the row %v, and its legend:\n%s", c.cols, c.inRow, out)
		}
		if !c.inRow && !strings.Contains(table, "\n\n  CHANGE           -40.7%                   +54.8%\n  checkout-errors   ├───────────┼┃●─────────────┤\n") {
			t.Errorf("%d columns: want the chart under the table, labelled, on its axis:\n%s", c.cols, table)
		}
		if !strings.Contains(row, "+7.0%   [-36.4%, +50.5%]") || !strings.Contains(row, "no harm detected") {
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
		if n := termchart.Cells(line); cols > 0 && n > cols {
			t.Errorf("%d columns: a line of %d:\n%s", cols, n, table)
		}
	}
	return table
}

// TestCutLinesCountsCells: cutLines and the other helpers that fit a line
// to the terminal count cells, not runes: a wide character (CJK, emoji)
// takes two, a combining mark none. Counting runes, a line of CJK text
// cut to 20 runes took 39 cells; one with an accent made of two runes was
// cut a cell early.
func TestCutLinesCountsCells(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"  rollback  checkout", "  rollback  checkout"},
		{"  回滚因为结帐错误率上升了很多很多", "  回滚因为结帐错误…"},
		{"  🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀", "  🚀🚀🚀🚀🚀🚀🚀🚀…"},
		{"  re\u0301sume\u0301 of the rollout", "  re\u0301sume\u0301 of the rol…"},
	} {
		got := cutLines(c.in, 20)
		if got != c.want || termchart.Cells(got) > 20 {
			t.Errorf("cutLines(%q, 20) = %q, %d cells; want %q", c.in, got, termchart.Cells(got), c.want)
		}
	}
	for line := range strings.Lines(legendLines([]string{"结帐错误率上升", "回滚", "暂停"}, 20)) {
		if n := termchart.Cells(strings.TrimSuffix(line, "\n")); n > 20 {
			t.Errorf("legendLines at 20 columns: %q is %d cells", line, n)
		}
	}
}

// TestWideNamesFitLikeASCII: a variant or guardrail named in CJK, ten cells
// in five characters, lays out, narrows its chart to the terminal and
// draws it under the table exactly as a ten-letter ASCII name does. Tables
// counted runes: the wide name's row stood five cells out of line, and
// took the chart five cells narrower than the terminal needed.
func TestWideNamesFitLikeASCII(t *testing.T) {
	const wide, ascii = "新结帐流程", "abcdefghij"
	control, treatment := 0.3791, 0.4621
	lift := stats.Effect{Estimate: 0.219, Interval: stats.Interval{Lower: 0.13, Upper: 0.308}, Sequential: stats.Interval{Lower: 0.077, Upper: 0.361}, SequentialPValue: 0.0003, AdjustedSequentialPValue: 0.002}
	results := func(name string) func(*strings.Builder, int) {
		m := experiment.MetricResult{Metric: "onboarding-completed", Kind: "conversion", Analysis: stats.Proportion, Direction: "higher", Variants: []experiment.VariantResult{
			{Variant: "control", Control: true, Users: 2063, Status: stats.OK, Mean: &control},
			{Variant: name, Users: 1937, Status: stats.OK, Mean: &treatment, Lift: &experiment.Lift{Absolute: lift, Relative: &lift, ChanceToWin: 1}},
		}}
		r := &experiment.Result{Flag: "f", Environment: "production", Metrics: []experiment.MetricResult{m}}
		r.Settings.Settings = stats.DefaultSettings()
		return func(b *strings.Builder, cols int) { writeResultsFit(b, r, cols) }
	}
	status := func(name string) func(*strings.Builder, int) {
		st := &rollout.Status{Rollout: rollout.Rollout{ID: 1, Environment: "production", State: rollout.Running, Percent: 5,
			Plan: rollout.Plan{Flag: "checkout-flow", Variant: "one-page", Baseline: "classic", Steps: []rollout.Step{{Percent: 5}, {Percent: 100}}}},
			Guardrails: []rollout.GuardrailResult{{Metric: name, Direction: metric.LowerIsBetter, Tolerance: 0.05, Status: "no_harm_detected",
				Change: 0.07, Interval: stats.Interval{Lower: -0.364, Upper: 0.505}}}}
		return func(b *strings.Builder, cols int) { writeRolloutStatusFit(b, st, cols) }
	}
	for _, write := range []func(string) func(*strings.Builder, int){results, status} {
		for _, cols := range []int{0, 120, 100, 90, 80, 60} {
			var w, a strings.Builder
			write(wide)(&w, cols)
			write(ascii)(&a, cols)
			if got := strings.ReplaceAll(w.String(), wide, ascii); got != a.String() {
				t.Errorf("%d columns: with %s\n%s\nwith %s\n%s", cols, wide, w.String(), ascii, a.String())
			}
		}
	}
}

// TestCutLinesCountsWhatIsPrinted: a line is cut to the cells it takes
// once printed, and the CLI prints a control character or a byte that is
// not UTF-8 escaped (textWriter: \x1b is four cells, \u009b six), not as
// nothing: a cause carrying an escape sequence ran past the terminal.
func TestCutLinesCountsWhatIsPrinted(t *testing.T) {
	for _, in := range []string{
		"  rollback \x1b[2J after the checkout errors",
		"  rollback \u009b2J after the checkout errors",
		"  rollback \xff\xfe after the checkout errors",
		"  \x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b",
	} {
		printed := string(neutralise([]byte(cutLines(in, 20))))
		if n := termchart.Cells(printed); n > 20 {
			t.Errorf("cutLines(%q, 20) prints %q, %d cells", in, printed, n)
		}
	}
	// What fits once printed is not cut.
	if got := cutLines("  a\x1bb", 20); got != "  a\x1bb" {
		t.Errorf("cutLines of a short line = %q", got)
	}
}

// TestRolloutStatusWordsFitTheTerminal: the sentences of a rollout's
// status (the header, a note on users served outside the split, a hold, a
// reason) wrap at spaces to the terminal's width, each continuation under
// the text it continues, and lose no word. The demo rollout's note was one
// line of 325 cells on an 80-column terminal, where the step line and the
// guardrail chart beside it fit.
func TestRolloutStatusWordsFitTheTerminal(t *testing.T) {
	note := `the flag's targeting serves "one-page" to the users a rule picks, outside the split: they count as users reached and are left out of the guardrails when their exposures say so (the server's do; an SDK's need split: false, as TARGETING_MATCH alone cannot say so); if they cannot, put the split on a rule of its own`
	held := "checkout-errors has 40 of the 100 users per variant the plan's minSample asks for before a step may advance"
	st := &rollout.Status{Rollout: rollout.Rollout{ID: 1, Environment: "production", State: rollout.Running, Percent: 5, StartedBy: "demo",
		Reason: "demo: release the one-page checkout to a first few customers, watching the checkout errors closely",
		Plan:   rollout.Plan{Flag: "checkout-flow", Variant: "one-page", Baseline: "classic", OnBreach: "rollback", Steps: []rollout.Step{{Percent: 5}, {Percent: 100}}}},
		Notes: []string{note}, Held: &rollout.Hold{Reason: held}, Waiting: "18h more at 5%"}
	for _, cols := range []int{80, 60} {
		var b strings.Builder
		writeRolloutStatusFit(&b, st, cols)
		out := b.String()
		fits(t, out, "Rollout 1", "  users", cols)
		words := strings.Join(strings.Fields(out), " ")
		for _, s := range []string{note, held, st.Rollout.Reason} {
			if !strings.Contains(words, s) {
				t.Errorf("%d columns: %q lost words:\n%s", cols, s, out)
			}
		}
		if !strings.Contains(out, "\n  note      the flag's targeting") || !strings.Contains(out, "\n            ") {
			t.Errorf("%d columns: want the note behind its label, continued under its text:\n%s", cols, out)
		}
	}
	var b strings.Builder
	writeRolloutStatusFit(&b, st, 0) // a pipe: one line each, as before
	if !strings.Contains(b.String(), "  note      "+note+"\n") {
		t.Errorf("without a width the note is cut:\n%s", b.String())
	}
}
