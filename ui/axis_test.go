package ui

import (
	"cmp"
	"html/template"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/stats"
)

// timeLabel is one label under a line chart's time axis.
type timeLabel struct {
	text   string
	anchor string
	box    box
}

// drawingsOf splits a chart into its drawings by width, each with the
// labels of its time axis (the text on the line under the plot).
func drawingsOf(t *testing.T, chart template.HTML) map[int][]timeLabel {
	t.Helper()
	out := map[int][]timeLabel{}
	label := regexp.MustCompile(`<text class="axis" x="([0-9.]+)" y="([0-9.]+)"(?: text-anchor="(\w+)")?>([^<]*)</text>`)
	for _, m := range regexp.MustCompile(`(?s)<svg class="chart w(\d+)".*?</svg>`).FindAllStringSubmatch(string(chart), -1) {
		width, _ := strconv.Atoi(m[1])
		out[width] = []timeLabel{}
		for _, l := range label.FindAllStringSubmatch(m[0], -1) {
			if parsed(l[2]) != float64(lineHeight(width)-8) {
				continue
			}
			anchor := l[3]
			if anchor == "" {
				anchor = "start"
			}
			out[width] = append(out[width], timeLabel{l[4], anchor, labelBox(l[4], parsed(l[1]), parsed(l[2]), anchor)})
		}
	}
	if len(out) != len(chartWidths) {
		t.Fatalf("%d drawings, want %d:\n%s", len(out), len(chartWidths), chart)
	}
	return out
}

// threeWeeks is an experiment's interval at the end of each of 20 days
// and now, as the review found it: "Nov 17 00:00 … Dec 7 16:19".
func threeWeeks() []replayPoint {
	var points []replayPoint
	add := func(at time.Time) {
		rel := stats.Effect{Estimate: 0.05, Sequential: stats.Interval{Lower: -0.01, Upper: 0.11}}
		points = append(points, replayPoint{At: at, Result: &experiment.Result{Users: 1000,
			Metrics: []experiment.MetricResult{{Metric: "signup", Variants: []experiment.VariantResult{
				{Variant: "control", Control: true}, {Variant: "treatment", Lift: &experiment.Lift{Relative: &rel}}}}}}})
	}
	for d := range 20 {
		add(time.Date(2026, 11, 17+d, 0, 0, 0, 0, time.UTC))
	}
	add(time.Date(2026, 12, 7, 16, 19, 0, 0, time.UTC))
	return points
}

// guardrailEvery6h is a guardrail decided every 6 hours for 32 hours.
func guardrailEvery6h(n int) guardrailView {
	start := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	result := rollout.GuardrailResult{Metric: "checkout-errors", Direction: "lower", Tolerance: 0.05, Status: rollout.GuardrailOK, Level: 0.95,
		Change: 0.01, Interval: stats.Interval{Lower: -0.03, Upper: 0.05}}
	var history []rollout.Event
	for k := range n {
		history = append(history, rollout.Event{At: start.Add(time.Duration(k) * 6 * time.Hour), Kind: rollout.KindHold,
			Guardrails: []rollout.GuardrailResult{result}})
	}
	return guardrailOverTime(result, history, start.Add(32*time.Hour))
}

// TestTimeAxisTicks: a line chart over time labelled only its first and
// last time ("Nov 17 00:00 … Dec 7 16:19"). Between them it has round
// times (midnights, or whole hours on a short span), whose labels overlap
// neither each other nor the ends at any width.
func TestTimeAxisTicks(t *testing.T) {
	threeWeeksChart, _ := intervalOverTime(threeWeeks(), "signup", effectRefs{}, "95%")
	exposures := map[string]map[time.Time]int64{"on": {}, "off": {}}
	for d := range 21 {
		day := time.Date(2026, 11, 17+d, 0, 0, 0, 0, time.UTC)
		exposures["on"][day], exposures["off"][day] = 100, 90
	}
	exposureDays, _ := exposureChart("f", []string{"off", "on"}, exposures)
	round := regexp.MustCompile(`^(?:[A-Z][a-z]{2} \d{1,2} ?)?(?:\d\d:00)?$`) // a day, a whole hour, or both
	for _, tc := range []struct {
		name  string
		chart template.HTML
	}{
		{"interval over three weeks", threeWeeksChart},
		{"exposures over three weeks", exposureDays},
		{"guardrail over 32 hours", guardrailEvery6h(5).Chart},
	} {
		for width, labels := range drawingsOf(t, tc.chart) {
			slices.SortFunc(labels, func(a, b timeLabel) int { return cmp.Compare(a.box.x0, b.box.x0) })
			ticks := 0
			for _, l := range labels {
				if l.anchor == "middle" { // the ends are anchored at their start and end
					ticks++
					if !round.MatchString(l.text) {
						t.Errorf("%s w%d: the tick %q is not a day or a whole hour", tc.name, width, l.text)
					}
				}
			}
			if ticks == 0 {
				t.Errorf("%s w%d: the time axis reads %v, want round times (days, whole hours) between its ends", tc.name, width, labels)
			}
			if !regexp.MustCompile(`^[A-Z][a-z]{2} \d`).MatchString(labels[0].text) {
				t.Errorf("%s w%d: the time axis reads %v, its first label without its day", tc.name, width, labels)
			}
			for i, l := range labels {
				if l.box.x0 < 0 || l.box.x1 > float64(width) {
					t.Errorf("%s w%d: the label %q (%.0f to %.0f) leaves the drawing", tc.name, width, l.text, l.box.x0, l.box.x1)
				}
				for _, o := range labels[i+1:] {
					if l.box.meets(o.box) {
						t.Errorf("%s w%d: the labels %q and %q overlap", tc.name, width, l.text, o.text)
					}
				}
			}
		}
	}
}

// TestSinglePointTime: a guardrail's one decision was drawn on an axis
// from an hour before it to an hour after: "Mar 1 01:00 … Mar 1 03:00",
// a future the chart knew nothing of. Its time alone is written.
func TestSinglePointTime(t *testing.T) {
	gv := guardrailOverTime(rollout.GuardrailResult{Metric: "checkout-errors", Direction: "lower", Tolerance: 0.05, Status: rollout.GuardrailOK, Level: 0.95,
		Change: 0.01, Interval: stats.Interval{Lower: -0.03, Upper: 0.05}}, nil, time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC))
	for width, labels := range drawingsOf(t, gv.Chart) {
		if len(labels) != 1 || labels[0].text != "Mar 1 02:00" {
			t.Errorf("w%d: the time axis reads %v, want only the decision's time Mar 1 02:00", width, labels)
		}
	}
}

// TestYAxisTitle: no line chart said what its numbers are. Each names its
// y-axis, in the drawing and in the description a screen reader gets.
func TestYAxisTitle(t *testing.T) {
	lift, _ := intervalOverTime(narrowingDays(), "signup", effectRefs{}, "95%")
	exposures, _ := exposureChart("f", []string{"off", "on"}, map[string]map[time.Time]int64{"on": {time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC): 3}})
	for _, tc := range []struct {
		chart template.HTML
		want  string
	}{
		{lift, "lift vs control (%)"},
		{exposures, "exposures per day"},
		{guardrailEvery6h(3).Chart, "change vs control (%)"},
	} {
		for _, m := range regexp.MustCompile(`(?s)<svg class="chart w(\d+)".*?</svg>`).FindAllStringSubmatch(string(tc.chart), -1) {
			if !strings.Contains(m[0], `<desc>Vertical axis: `+tc.want+`.`) {
				t.Errorf("w%s: no description naming the y-axis %q:\n%s", m[1], tc.want, m[0])
			}
			if !strings.Contains(m[0], `<text class="axis ytitle" x="4" y="12">`+esc(tc.want)+`</text>`) {
				t.Errorf("w%s: no y-axis title %q drawn:\n%s", m[1], tc.want, m[0])
			}
		}
	}
}
