package termchart_test

import (
	"bytes"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/termchart"
)

func TestBar(t *testing.T) {
	for _, c := range []struct {
		percent float64
		width   int
		want    string
	}{
		{25, 8, "[██······]"},
		{5, 10, "[▌·········]"},
		{0, 4, "[····]"},
		{100, 4, "[████]"},
	} {
		if got := termchart.Bar(c.percent, c.width); got != c.want {
			t.Errorf("Bar(%g, %d) = %q, want %q", c.percent, c.width, got, c.want)
		}
	}
}

func TestSparkline(t *testing.T) {
	for _, c := range []struct {
		name string
		vals []float64
		ok   []bool
		most int
		want string
	}{
		{"scaled to the largest", []float64{0, 1, 7}, []bool{true, true, true}, 10, "▁▂█"},
		{"undefined figures", []float64{3, 0, 3}, []bool{true, false, true}, 10, "█·█"},
		{"latest only", []float64{9, 1, 2}, []bool{true, true, true}, 2, "…▅█"},
		{"all zero", []float64{0, 0}, []bool{true, true}, 10, "▁▁"},
	} {
		if got := termchart.Sparkline(c.vals, c.ok, c.most); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		45 * time.Second: "45s", 12 * time.Minute: "12m", 5*time.Hour + 12*time.Minute: "5h12m", 76 * time.Hour: "3d4h",
		// Rounded to the last unit written, not truncated.
		17980 * time.Millisecond: "18s", 59600 * time.Millisecond: "1m", 90*time.Second - time.Millisecond: "1m", 90 * time.Second: "2m",
		59*time.Minute + 40*time.Second: "1h00m", 5*time.Hour + 12*time.Minute + 40*time.Second: "5h13m",
		24*time.Hour - 10*time.Second: "1d", 30 * 24 * time.Hour: "30d", 76*time.Hour + 40*time.Minute: "3d5h",
	} {
		if got := termchart.Duration(d); got != want {
			t.Errorf("Duration(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestProgress draws a bar with a total, a counter without, and nothing
// off a terminal.
func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	p := &termchart.Progress{W: &buf, TTY: true, Total: 200, Start: time.Now(), Label: "load:", Unit: "users"}
	p.Draw(50, 7)
	if got := buf.String(); !strings.HasPrefix(got, "\rload: [=======       ") || !strings.Contains(got, "]  25% 7 users") {
		t.Errorf("bar = %q", got)
	}
	p.Clear()
	if !strings.HasSuffix(buf.String(), "\r") {
		t.Errorf("not cleared: %q", buf.String())
	}
	buf.Reset()
	(&termchart.Progress{W: &buf, TTY: true, Start: time.Now()}).Draw(0, 12)
	if got := buf.String(); got != "\r12 events " {
		t.Errorf("counter = %q", got)
	}
	buf.Reset()
	(&termchart.Progress{W: &buf, Total: 10, Start: time.Now()}).Draw(5, 5)
	if buf.Len() != 0 {
		t.Errorf("drawn off a terminal: %q", buf.String())
	}
}

func TestInterval(t *testing.T) {
	for _, c := range []struct {
		name string
		iv   termchart.Interval
		want string
	}{
		{"around zero", termchart.Interval{Width: 11, From: 2, To: 8, Zero: 5, Est: 6}, "  ├──┼●─┤  "},
		{"clear of zero", termchart.Interval{Width: 11, From: 6, To: 9, Zero: 5, Est: 7}, "     │├●─┤ "},
		{"off both ends", termchart.Interval{Width: 7, From: 0, To: 6, Zero: 3, Est: 2, OffLeft: true, OffRight: true}, "◄─●┼──►"},
		{"with a mark", termchart.Interval{Width: 9, From: 1, To: 4, Zero: 2, Est: 3, Mark: '┃', MarkAt: 6}, " ├┼●┤ ┃  "},
	} {
		if got := c.iv.String(); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

// TestProgressFitsTheTerminal: the line is redrawn in place only while it
// fits on one line of the terminal; wrapped, each redraw left a line
// behind. Before, a rebuild's "pass 2/2, events:" line with millions of
// events ran past 80 columns, and a 40-column terminal wrapped every line.
// A label of wide characters (導入 is two cells a character) counts as
// wide as it is drawn.
func TestProgressFitsTheTerminal(t *testing.T) {
	for _, c := range []struct {
		cols  int
		label string
	}{{80, "pass 2/2, events:"}, {40, "pass 2/2, events:"}, {20, "pass 2/2, events:"}, {40, "導入イベント:"}, {20, "導入イベント 2/2:"}} {
		cols := c.cols
		var buf bytes.Buffer
		p := &termchart.Progress{W: &buf, TTY: true, Cols: cols, Total: 1000, Start: time.Now().Add(-time.Hour), Label: c.label}
		p.Draw(500, 12_345_678)
		line := strings.TrimPrefix(buf.String(), "\r")
		if n := termchart.Cells(line); n >= cols || n == 0 {
			t.Errorf("%d columns: the line is %d wide: %q", cols, n, line)
		}
		if cols >= 40 && !strings.Contains(line, "50%") {
			t.Errorf("%d columns: the share done is cut off: %q", cols, line)
		}
		buf.Reset()
		p.Clear()
		if erased := strings.Count(buf.String(), " "); erased < termchart.Cells(line) || erased >= cols {
			t.Errorf("%d columns: %d cells erased after a line of %d", cols, erased, termchart.Cells(line))
		}
	}
}

// TestWidth: COLUMNS when set, else the terminal's own width, else 80.
func TestWidth(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "COLUMNS" {
				return v
			}
			return ""
		}
	}
	var buf bytes.Buffer
	for v, want := range map[string]int{"40": 40, "": 80, "abc": 80, "0": 80} {
		if got := termchart.Width(&buf, env(v)); got != want {
			t.Errorf("COLUMNS=%q: Width = %d, want %d", v, got, want)
		}
	}
}

// TestOutputWidth: output to a file or a pipe fits COLUMNS when it is set,
// and has no limit (0) otherwise, where Width would say 80.
func TestOutputWidth(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	var buf bytes.Buffer
	for v, want := range map[string]int{"40": 40, "": 0, "abc": 0, "0": 0, "-3": 0} {
		getenv := func(k string) string {
			if k == "COLUMNS" {
				return v
			}
			return ""
		}
		for name, out := range map[string]io.Writer{"pipe": w, "buffer": &buf} {
			if got := termchart.OutputWidth(out, getenv); got != want {
				t.Errorf("%s, COLUMNS=%q: OutputWidth = %d, want %d", name, v, got, want)
			}
		}
	}
}

// TestBarOutOfRange: a share outside 0-100 fills the bar or leaves it
// empty; before, 150% drew past the bar's width and a negative share
// below -12.5% panicked (strings.Repeat with a negative count), as did NaN.
func TestBarOutOfRange(t *testing.T) {
	for _, c := range []struct {
		percent float64
		want    string
	}{{150, "[████]"}, {-20, "[····]"}, {math.NaN(), "[····]"}, {math.Inf(1), "[████]"}} {
		if got := termchart.Bar(c.percent, 4); got != c.want {
			t.Errorf("Bar(%g, 4) = %q, want %q", c.percent, got, c.want)
		}
	}
}

// TestRateUnitFor: a column of rates gets the unit that writes its
// smallest rate best, zeros aside, and each figure is written in it.
func TestRateUnitFor(t *testing.T) {
	for _, tc := range []struct {
		rates []float64
		want  []string
	}{
		{[]float64{2, 2.0 / 7}, []string{"14.0/week", "2.0/week"}},
		{[]float64{3, 1.5, 0}, []string{"3.0/day", "1.5/day", "0/day"}},
		{[]float64{1, 0.05}, []string{"30.0/month", "1.5/month"}},
		{[]float64{0, 0}, []string{"0/day", "0/day"}},
	} {
		u := termchart.RateUnitFor(tc.rates...)
		for i, r := range tc.rates {
			if got := u.Format(r); got != tc.want[i] {
				t.Errorf("RateUnitFor(%v).Format(%v) = %q, want %q", tc.rates, r, got, tc.want[i])
			}
		}
	}
}

// TestOneUnit: figures written for one column share a unit, the one the
// slowest alone would take; PerDay alone picks the unit that reads best.
func TestOneUnit(t *testing.T) {
	for _, c := range []struct {
		vs   []float64
		want []string
	}{
		{[]float64{3.3 / 7, 2.3 / 30, 3.8 / 7}, []string{"14.1/month", "2.3/month", "16.3/month"}},
		{[]float64{1.5, 2.0 / 7, 0}, []string{"10.5/week", "2.0/week", "0/week"}},
		{[]float64{1.5, 4}, []string{"1.5/day", "4.0/day"}},
		{[]float64{0, 0}, []string{"0/day", "0/day"}},
	} {
		write := termchart.RateUnitFor(c.vs...).Format
		for i, v := range c.vs {
			if got := write(v); got != c.want[i] {
				t.Errorf("RateUnitFor(%v).Format(%v) = %q, want %q", c.vs, v, got, c.want[i])
			}
		}
	}
	for v, want := range map[float64]string{0: "0/day", 1.1: "1.1/day", 6.8 / 7: "6.8/week", 3.0 / 30: "3.0/month"} {
		if got := termchart.RateUnitFor(v).Format(v); got != want {
			t.Errorf("RateUnitFor(%v).Format(%v) = %q, want %q", v, v, got, want)
		}
	}
}
