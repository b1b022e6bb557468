package ui

import (
	"html/template"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// TestSortExperimentRows: the experiments list is grouped by environment,
// then ordered by flag, even when one environment's name begins another's.
func TestSortExperimentRows(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []experimentRow
		want []string
	}{
		{"prefix environments", []experimentRow{{Env: "usa", Flag: "x"}, {Env: "us", Flag: "beta"}, {Env: "us", Flag: "alpha"}},
			[]string{"us/alpha", "us/beta", "usa/x"}},
		{"flag ties broken by environment first", []experimentRow{{Env: "b", Flag: "a"}, {Env: "a", Flag: "b"}},
			[]string{"a/b", "b/a"}},
		{"one environment", []experimentRow{{Env: "prod", Flag: "z"}, {Env: "prod", Flag: "a"}},
			[]string{"prod/a", "prod/z"}},
	} {
		rows := slices.Clone(tc.in)
		sortExperimentRows(rows)
		var got []string
		for _, r := range rows {
			got = append(got, r.Env+"/"+r.Flag)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestAnalysisCacheBound: the kept results stay within maxKeptAnalyses,
// dropping those used least recently; one used again survives.
func TestAnalysisCacheBound(t *testing.T) {
	c := newAnalysisCache()
	var sum [32]byte
	res := &experiment.Result{}
	for i := range maxKeptAnalyses + 10 {
		in := &experiment.Input{Environment: "e", Flag: strconv.Itoa(i)}
		c.put(in, sum, res)
		c.get(&experiment.Input{Environment: "e", Flag: "0"}, sum) // used all along
		if len(c.m) > maxKeptAnalyses {
			t.Fatalf("%d results kept after %d put, want at most %d", len(c.m), i+1, maxKeptAnalyses)
		}
	}
	if c.get(&experiment.Input{Environment: "e", Flag: "0"}, sum) == nil {
		t.Errorf("the result used all along was dropped")
	}
	if c.get(&experiment.Input{Environment: "e", Flag: "1"}, sum) != nil {
		t.Errorf("the least recently used result was kept")
	}
	if c.get(&experiment.Input{Environment: "e", Flag: "0"}, [32]byte{1}) != nil {
		t.Errorf("a result was reused for another input")
	}
}

// TestIntervalOverTimeAbsolute: a primary metric with an absolute lift
// only (its control's mean is zero) was charted and listed as percentages
// (+150% for a difference of 1.5); it is written as the results table
// writes it, in the metric's units, and its minimum effect, absolute, is
// marked.
func TestIntervalOverTimeAbsolute(t *testing.T) {
	abs := stats.Effect{Estimate: 1.5, Sequential: stats.Interval{Lower: 0.5, Upper: 2.5}}
	var points []replayPoint
	for d := range 3 {
		points = append(points, replayPoint{At: time.Date(2026, 3, 1+d, 0, 0, 0, 0, time.UTC), Result: &experiment.Result{Users: 100,
			Metrics: []experiment.MetricResult{{Metric: "revenue", Variants: []experiment.VariantResult{
				{Variant: "control", Control: true}, {Variant: "treatment", Lift: &experiment.Lift{Absolute: abs}}}}}}})
	}
	minEffect := effectRefs{Absolute: []refLine{{Y: 1, Label: "minimum effect"}}}
	chart, rows := intervalOverTime(points, "revenue", minEffect, "95%")
	// The title says the interval's level (95%); no figure is a percentage.
	if strings.Contains(strings.ReplaceAll(string(chart), "95% always-valid", ""), "%") || !strings.Contains(string(chart), "1.5") || !strings.Contains(string(chart), "minimum effect") {
		t.Errorf("the chart of an absolute lift, want its units (1.5), no %%, and the minimum effect:\n%s", chart)
	}
	if !strings.Contains(string(chart), "Difference of revenue") {
		t.Errorf("the chart's title, want it to say the difference:\n%.300s", chart)
	}
	if len(rows) != 3 || rows[0].Relative {
		t.Errorf("rows %+v, want 3 absolute", rows)
	}
}

// TestAnalysisCacheDropsHalf: past the bound the least recently used half
// is dropped, as the cache says. The cut was the midpoint of the oldest
// and newest use, not the median: with one result long unused and the
// rest used since, only that one went, and every later put scanned all
// 4096 again to drop one.
func TestAnalysisCacheDropsHalf(t *testing.T) {
	c := newAnalysisCache()
	var sum [32]byte
	res := &experiment.Result{}
	in := func(i int) *experiment.Input { return &experiment.Input{Environment: "e", Flag: strconv.Itoa(i)} }
	for i := range maxKeptAnalyses {
		c.put(in(i), sum, res)
	}
	for i := 1; i < maxKeptAnalyses; i++ {
		c.get(in(i), sum) // all used again but the first
	}
	c.put(in(maxKeptAnalyses), sum, res)
	if n := len(c.m); n > maxKeptAnalyses/2+1 {
		t.Errorf("%d results kept after the bound was passed, want at most %d", n, maxKeptAnalyses/2+1)
	}
	if c.get(in(maxKeptAnalyses), sum) == nil {
		t.Errorf("the result just put was dropped")
	}
}

// TestAnalysisKeptUntilAWindowCloses: a kept result counts the users whose
// window may still be open at its time, so the input's sum changes when a
// day's users' window closes, with nothing else changed, and not before.
func TestAnalysisKeptUntilAWindowCloses(t *testing.T) {
	day := metric.DayOf(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixMilli())
	in := experiment.Input{Environment: "e", Flag: "f",
		Metrics: []metric.Metric{{Key: "bought", Kind: metric.Conversion, Event: "buy", Window: metric.Window(72 * time.Hour)}},
		Days:    []metric.Aggregate{{Flag: "f", Variant: "on", Dimension: metric.ExposureDayDimension, Value: metric.DayLabel(day), Sums: metric.Sums{N: 1}}},
		Now:     time.Date(2026, 3, 5, 23, 0, 0, 0, time.UTC)} // the 1st closes on the 6th at 00:00
	open := inputSum(&in)
	in.Now = in.Now.Add(59 * time.Minute)
	if inputSum(&in) != open {
		t.Errorf("an hour later, the same days closed: the sum changed, the kept result would be analysed again")
	}
	in.Now = in.Now.Add(time.Minute)
	if inputSum(&in) == open {
		t.Errorf("the 1st's window closed: the sum did not change, the kept result would count its users as open")
	}
}

// TestIntervalOverTimeFocus: the first day's interval (up to +600%) set
// the y-axis, so the latest interval, a few percent wide, was drawn as a
// flat line near zero. The axis is fitted to the later days: the latest
// interval takes a fair share of the plot's height, and the first day's,
// beyond it, is cut at the edge and marked, its tooltip giving its bounds;
// zero stays inside the plot.
func TestIntervalOverTimeFocus(t *testing.T) {
	points := narrowingDays()
	chart, _ := intervalOverTime(points, "signup", effectRefs{}, "95%")
	for _, d := range focusedDrawings(t, chart, len(points)) {
		width, plot := d.width, d.plot
		if d.span < plot/8 {
			t.Errorf("w%d: the latest interval (+1%% to +9%%) spans %.1f of the plot's %.0f pixels, want at least an eighth", width, d.span, plot)
		}
		// No effect (the first reference line) is inside the plot, not on
		// its bottom edge, where the cut ends below it would hide it.
		if ref := regexp.MustCompile(`<line class="ref" [^>]*y1="([0-9.]+)"`).FindStringSubmatch(d.svg); ref == nil || parsed(ref[1]) > padT+plot-4 {
			t.Errorf("w%d: the line of no effect at %v, want it above the plot's bottom edge %.0f", width, ref, padT+plot)
		}
		if !strings.Contains(d.svg, `<path class="clip s0"`) || !strings.Contains(d.svg, "+600.0%") {
			t.Errorf("w%d: the first day's interval, beyond the axis, is not marked with its bounds (+600.0%%):\n%s", width, d.svg)
		}
	}
}

// focusedDrawing is one drawing of a chart of one series with a band of
// n points, with the height its latest interval spans and the plot's.
type focusedDrawing struct {
	width      int
	svg        string
	span, plot float64
}

func focusedDrawings(t *testing.T, chart template.HTML, n int) []focusedDrawing {
	t.Helper()
	svgs := regexp.MustCompile(`(?s)<svg class="chart w(\d+)".*?</svg>`).FindAllStringSubmatch(string(chart), -1)
	if len(svgs) != len(chartWidths) {
		t.Fatalf("%d drawings, want %d", len(svgs), len(chartWidths))
	}
	var out []focusedDrawing
	for _, m := range svgs {
		width, _ := strconv.Atoi(m[1])
		band := regexp.MustCompile(`<polygon class="band s0" points="([^"]*)"`).FindStringSubmatch(m[0])
		if band == nil {
			t.Fatalf("w%d: no band:\n%s", width, m[0])
		}
		// The band's points run along its top, then back along its bottom:
		// the latest point's top is the nth, its bottom the next.
		xy := strings.Fields(band[1])
		yOf := func(s string) float64 { return parsed(s[strings.Index(s, ",")+1:]) }
		out = append(out, focusedDrawing{width: width, svg: m[0], span: yOf(xy[n]) - yOf(xy[n-1]), plot: float64(lineHeight(width)) - padT - padB})
	}
	return out
}

func parsed(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }

// narrowingDays are eight days of a treatment's lift whose interval
// narrows from -200% to +600% on the first day down to +1% to +9%.
func narrowingDays() []replayPoint {
	var points []replayPoint
	days := []struct{ est, half float64 }{{2, 4}, {0.6, 1.2}, {0.3, 0.5}, {0.15, 0.2}, {0.12, 0.1}, {0.07, 0.06}, {0.06, 0.05}, {0.05, 0.04}}
	for d, day := range days {
		rel := stats.Effect{Estimate: day.est, Sequential: stats.Interval{Lower: day.est - day.half, Upper: day.est + day.half}}
		points = append(points, replayPoint{At: time.Date(2026, 3, 1+d, 0, 0, 0, 0, time.UTC), Result: &experiment.Result{Users: int64(100 * (d + 1)),
			Metrics: []experiment.MetricResult{{Metric: "signup", Variants: []experiment.VariantResult{
				{Variant: "control", Control: true}, {Variant: "treatment", Lift: &experiment.Lift{Relative: &rel}}}}}}})
	}
	return points
}

// TestClipMarksClearOfLegend: the arrowheads of the intervals cut at the
// top of a focused chart were drawn inside the plot, where the legend is
// (top left): the second and third days' marks lay under "treatment vs
// control". They are drawn beyond the edge they cross, clear of it.
func TestClipMarksClearOfLegend(t *testing.T) {
	chart, _ := intervalOverTime(narrowingDays(), "signup", effectRefs{}, "95%")
	for _, m := range regexp.MustCompile(`(?s)<svg class="chart w(\d+)".*?</svg>`).FindAllStringSubmatch(string(chart), -1) {
		key := regexp.MustCompile(`<rect class="dot s0" x="([0-9.]+)" y="([0-9.]+)" width="10" height="10" rx="2"/><text class="legend" x="([0-9.]+)" y="[0-9.]+">([^<]*)</text>`).FindStringSubmatch(m[0])
		if key == nil {
			t.Fatalf("w%s: no legend:\n%s", m[1], m[0])
		}
		legend := box{parsed(key[1]), parsed(key[2]), parsed(key[3]) + 7*float64(len(key[4])), parsed(key[2]) + 10}
		marks := regexp.MustCompile(`<path class="clip s0" d="M([0-9.]+) ([0-9.]+)l(-?[0-9.]+) (-?[0-9.]+)h(-?[0-9.]+)z">`).FindAllStringSubmatch(m[0], -1)
		if len(marks) < 3 {
			t.Fatalf("w%s: %d marks of cut intervals, want the first days' (3 or more):\n%s", m[1], len(marks), m[0])
		}
		for _, k := range marks {
			// M x y, l dx dy, h dx: a triangle.
			x0, y0 := parsed(k[1]), parsed(k[2])
			x1, y1 := x0+parsed(k[3]), y0+parsed(k[4])
			x2 := x1 + parsed(k[5])
			mark := box{min(x0, x1, x2), min(y0, y1), max(x0, x1, x2), max(y0, y1)}
			if mark.meets(legend) {
				t.Errorf("w%s: the mark %s lies on the legend %+v", m[1], k[0], legend)
			}
		}
	}
}

// TestExperimentPageShowsTheNote: the metrics table says, under the
// variant's status, when its interval is not the usual one (Newcombe's for
// a conversion of 0% against 100%) or its figure may mislead; the page
// showed the interval without saying so.
func TestExperimentPageShowsTheNote(t *testing.T) {
	u := &UI{Now: time.Now}
	if err := u.parseTemplates(); err != nil {
		t.Fatal(err)
	}
	res, err := stats.Analyze(stats.DefaultSettings(), stats.Input{
		Variants: []stats.Variant{{Name: "control", Weight: 1, Units: 40}, {Name: "treatment", Weight: 1, Units: 30}},
		Metrics:  []stats.Metric{{Name: "m", Kind: stats.Proportion, Summaries: []stats.Summary{stats.ProportionSummary(40, 0), stats.ProportionSummary(30, 30)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	zero, one := 0.0, 1.0
	m := experiment.MetricResult{Metric: "signup", Kind: "conversion", Analysis: stats.Proportion, Direction: "higher", Variants: []experiment.VariantResult{
		{Variant: "control", Control: true, Users: 40, Status: stats.OK, Mean: &zero},
		{Variant: "treatment", Users: 30, Status: stats.OK, Mean: &one, Lift: &experiment.Lift{Absolute: res.Metrics[0].Comparisons[0].Absolute}},
	}}
	r := &experiment.Result{Flag: "f", Environment: "production", Metrics: []experiment.MetricResult{m}}
	r.Settings.Settings = stats.DefaultSettings()
	var b strings.Builder
	d := experimentData{Env: "production", Flag: "f", Result: r, Inference: experiment.Fixed, Metrics: []metricView{{MetricResult: m}}}
	if err := u.pages["experiment"].ExecuteTemplate(&b, "content", page{Data: d}); err != nil {
		t.Fatal(err)
	}
	if want := "Note: every unit converted in the treatment and none in control: the normal approximation has no interval, so this is Newcombe&#39;s hybrid score interval"; !strings.Contains(b.String(), want) {
		t.Errorf("the experiment page lacks %q:\n%s", want, b.String())
	}
}
