package ui

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/valueloop/valueloop/stats"
	"github.com/valueloop/valueloop/termchart"
)

// Charts are drawn on the server as inline SVG: no script, no library.
// Each has role="img" and a leading <title> that says what it shows: the
// title alone names it (SVG-AAM) and is its tooltip. An aria-label beside it
// would make the title the description, which a screen reader reads as
// well, so the name would be heard twice. The page shows the same figures
// as text or a table beside it. Colours
// come from CSS classes (s0…s5, band, axis, ref), so the charts follow the
// light and dark themes.
//
// A chart is drawn for the width it gets: each comes as a few drawings
// (chartWidths), of which CSS shows the one for its box's width (a
// container query), so that its text is drawn between 0.9 and 1.7 times
// its size, never scaled down to a phone's 3.5px. The narrower drawings
// have fewer ticks and forest plots put each row's label above its
// interval. Without container queries the narrowest shows.

// point is one observation of a series.
type point struct {
	T      time.Time
	Y      float64
	Lo, Hi float64 // an interval around Y, when HasBand
	// Bounds says the interval in words for a tooltip (an open side as
	// ∞); when empty, Lo and Hi are written.
	Bounds string
}

type series struct {
	Name    string
	Points  []point
	HasBand bool
}

// refLine is a horizontal line to compare with (zero, a tolerance).
type refLine struct {
	Y     float64
	Label string
}

type chartSpec struct {
	Title string
	// YTitle says what the y-axis' numbers are ("lift vs control (%)"),
	// drawn above it and given to screen readers as the description.
	YTitle string
	Series []series
	Refs   []refLine
	YFmt   func(float64) string // the axis' ticks
	// Fmt writes a point's figures in its tooltip (YFmt when nil): a
	// lift's +1.0% as the tables write it, where its tick says +10%.
	Fmt  func(float64) string
	Step bool    // draw as steps (a percentage held until changed)
	Days bool    // the points are whole days: the time axis says days, not hours
	YMax float64 // when set, the axis ends there (100 for percentages)
	// Focus sets the y-axis from the later half of each series (and the
	// reference lines) when the whole would take more than twice that
	// range: an interval over time starts wide (+600% on its first day),
	// and an axis fitted to it drew the latest interval as a flat line.
	// What leaves the axis is drawn to its edge and marked (focusClip).
	Focus bool
}

// chartWidths are the widths each chart is drawn for; style.css shows
// the drawing of class wN whose width suits its box (at 550px and 880px
// the next one up).
var chartWidths = []int{320, 600, 960}

// sized writes the drawings of one chart, one per width (of
// chartWidths, or barWidths for the bar chart).
func sized(widths []int, draw func(b *strings.Builder, width int)) template.HTML {
	var b strings.Builder
	b.WriteString(`<div class="chartbox">`)
	for _, w := range widths {
		draw(&b, w)
	}
	b.WriteString(`</div>`)
	return template.HTML(b.String())
}

// barWidths are the widths of the throughput's bars, which are never
// drawn wider than 480px (style.css shows w480 from 440px on).
var barWidths = []int{320, 480}

// chartStart opens the svg of one drawing, of class kind (chart, bars).
func chartStart(b *strings.Builder, kind, title string, width int, height float64) {
	fmt.Fprintf(b, `<svg class="%s w%d" viewBox="0 0 %d %.0f" role="img"><title>%s</title>`, kind, width, width, height, esc(title))
}

// yTitleH is the height of the line over a line chart's plot that names
// its y-axis.
const yTitleH = 14.0

const (
	padL, padR, padT, padB = 56.0, 16.0, 14.0, 30.0
)

func esc(s string) string { return template.HTMLEscapeString(s) }

// lineChart draws series over time, with interval bands and reference lines.
func lineChart(c chartSpec) template.HTML {
	if c.YFmt == nil {
		c.YFmt = func(y float64) string { return fmt.Sprintf("%.3g", y) }
	}
	if c.Fmt == nil {
		c.Fmt = c.YFmt
	}
	return sized(chartWidths, func(b *strings.Builder, width int) { drawLines(b, c, width) })
}

// lineHeight is a line chart's height at width: lower on a phone, where
// its width would otherwise make it a square.
func lineHeight(width int) int { return 200 + width/16 }

func drawLines(b *strings.Builder, c chartSpec, width int) {
	height := lineHeight(width)
	var t0, t1 time.Time
	n := 0
	for _, s := range c.Series {
		for _, p := range s.Points {
			if n == 0 || p.T.Before(t0) {
				t0 = p.T
			}
			if n == 0 || p.T.After(t1) {
				t1 = p.T
			}
			n++
		}
	}
	ylo, yhi := yRange(c, 0)
	if c.Focus {
		if flo, fhi := yRange(c, 0.5); yhi-ylo > 2*(fhi-flo) {
			ylo, yhi = flo, fhi
		}
	}
	chartStart(b, "chart", c.Title, width, float64(height))
	head := padT
	if c.YTitle != "" {
		// The desc is the image's description (SVG-AAM): the text drawn
		// inside a role="img" is hidden from screen readers.
		fmt.Fprintf(b, `<desc>Vertical axis: %s. Horizontal axis: time.</desc>`, esc(c.YTitle))
		fmt.Fprintf(b, `<text class="axis ytitle" x="4" y="12">%s</text>`, esc(c.YTitle))
		head += yTitleH
	}
	if n == 0 {
		fmt.Fprintf(b, `<text class="axis" x="%d" y="%d" text-anchor="middle">no data yet</text></svg>`, width/2, height/2)
		return
	}
	if yhi == ylo {
		yhi, ylo = yhi+1, ylo-1
		if ylo < 0 && c.Series[0].Points[0].Y >= 0 {
			ylo = 0
		}
	}
	pad := (yhi - ylo) * 0.08
	// A focused chart's zero is a reference (no effect), drawn inside it:
	// at the edge, the cut ends of the intervals below it would hide it.
	nonNegative := ylo >= 0 && !c.Focus
	ylo, yhi = ylo-pad, yhi+pad
	if nonNegative && ylo < 0 {
		ylo = 0 // counts and percentages do not go below zero
	}
	single := !t1.After(t0)
	if single {
		t0, t1 = t0.Add(-time.Hour), t1.Add(time.Hour)
	}
	w := float64(width) - padL - padR
	keys := legendSpots(c.Series, padL+w, head)
	legend := len(c.Series) > 1 || c.Series[0].HasBand
	// The key has the top of the drawing to itself: inside the plot, the
	// points and bands at its top left (a phone's one day of exposures,
	// an interval's first days) were drawn under it.
	lb := legendBox(c.Series, keys, head)
	top := head
	if legend {
		top = lb.y1 + 8
	}
	h := float64(height) - top - padB
	x := func(t time.Time) float64 { return padL + w*float64(t.Sub(t0))/float64(t1.Sub(t0)) }
	y := func(v float64) float64 { return top + h*(1-(v-ylo)/(yhi-ylo)) } // ylo, yhi as rounded below
	// Axes: round y ticks; the first and last time with round times
	// between them (timeAxis).
	step := niceStep((yhi - ylo) / 4)
	ylo, yhi = math.Floor(ylo/step)*step, math.Ceil(yhi/step)*step
	if c.YMax != 0 && yhi > c.YMax {
		yhi = c.YMax
	}
	for v := ylo; v <= yhi+step/2; v += step {
		fmt.Fprintf(b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, padL, padL+w, y(v), y(v))
		fmt.Fprintf(b, `<text class="axis" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, padL-6, y(v)+4, esc(c.YFmt(v)))
	}
	timeAxis(b, c.Days, single, t0, t1, x, top, top+h, height)
	shown := c.Series
	if c.Focus {
		shown = clampSeries(c.Series, ylo, yhi)
	}
	bands := bandShapes(shown, x, y)
	taken := []box{lb}
	for i, r := range c.Refs {
		fmt.Fprintf(b, `<line class="ref" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, padL, padL+w, y(r.Y), y(r.Y))
		lx, ly, anchor := placeRefLabel(r.Label, i, y(r.Y), w, bands, taken)
		taken = append(taken, labelBox(r.Label, lx, ly, anchor))
		fmt.Fprintf(b, `<text class="reflabel" x="%.1f" y="%.1f" text-anchor="%s">%s</text>`, lx, ly, anchor, esc(r.Label))
	}
	for i, s := range shown {
		cls := fmt.Sprintf("s%d", i%6)
		if s.HasBand && len(s.Points) > 0 {
			var up, down []string
			for _, p := range s.Points {
				up = append(up, fmt.Sprintf("%.1f,%.1f", x(p.T), y(p.Hi)))
			}
			for k := len(s.Points) - 1; k >= 0; k-- {
				p := s.Points[k]
				down = append(down, fmt.Sprintf("%.1f,%.1f", x(p.T), y(p.Lo)))
			}
			if len(s.Points) == 1 {
				p := s.Points[0]
				fmt.Fprintf(b, `<line class="band-line %s" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, cls, x(p.T), x(p.T), y(p.Lo), y(p.Hi))
			} else {
				fmt.Fprintf(b, `<polygon class="band %s" points="%s %s"/>`, cls, strings.Join(up, " "), strings.Join(down, " "))
			}
		}
		var pts []string
		for k, p := range s.Points {
			if c.Step && k > 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.T), y(s.Points[k-1].Y)))
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.T), y(p.Y)))
		}
		if c.Step && len(s.Points) > 0 {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", padL+w, y(s.Points[len(s.Points)-1].Y)))
		}
		fmt.Fprintf(b, `<polyline class="line %s" points="%s"/>`, cls, strings.Join(pts, " "))
		for k, p := range s.Points {
			orig := c.Series[i].Points[k] // its title says the figure, not where it is drawn
			fmt.Fprintf(b, `<circle class="dot %s" cx="%.1f" cy="%.1f" r="3"><title>%s %s: %s</title></circle>`, cls, x(p.T), y(p.Y), esc(s.Name), tipTime(p.T, c.Days), esc(c.Fmt(orig.Y)))
			if c.Focus {
				focusClip(b, cls, s.Name, orig, c.Days, c.Fmt, x(p.T), y(ylo), y(yhi), ylo, yhi)
			}
		}
	}
	// Legend, above the plot's left, when there is more than one series
	// or a band.
	for i, s := range c.Series {
		if !legend {
			break
		}
		legendEntry(b, fmt.Sprintf("dot s%d", i%6), s.Name, keys[i].x, keys[i].y)
	}
	b.WriteString(`</svg>`)
}

// yRange is the range of the y values of c's series, each from its
// point at share of its length on (0: all, 0.5: the later half, always
// its last), and of its reference lines.
func yRange(c chartSpec, share float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		from := min(int(float64(len(s.Points))*share), len(s.Points)-1)
		for _, p := range s.Points[max(from, 0):] {
			plo, phi := p.Y, p.Y
			if s.HasBand {
				plo, phi = math.Min(plo, p.Lo), math.Max(phi, p.Hi)
			}
			lo, hi = math.Min(lo, plo), math.Max(hi, phi)
		}
	}
	for _, r := range c.Refs {
		lo, hi = math.Min(lo, r.Y), math.Max(hi, r.Y)
	}
	return lo, hi
}

// clampSeries is ss with every value held within lo and hi: drawn to the
// axis' edge.
func clampSeries(ss []series, lo, hi float64) []series {
	out := make([]series, len(ss))
	clamp := func(v float64) float64 { return math.Max(lo, math.Min(hi, v)) }
	for i, s := range ss {
		out[i] = s
		out[i].Points = make([]point, len(s.Points))
		for k, p := range s.Points {
			p.Y, p.Lo, p.Hi = clamp(p.Y), clamp(p.Lo), clamp(p.Hi)
			out[i].Points[k] = p
		}
	}
	return out
}

// focusClip marks a point of a focused chart whose interval or estimate
// leaves the axis (lo to hi, at pixels bottom and top): a cut end, an
// arrowhead beyond the edge it crosses, whose tooltip says the true
// figures. Drawn inside the plot, those at the top lay under the legend.
func focusClip(b *strings.Builder, cls, name string, p point, days bool, f func(float64) string, px, bottom, top, lo, hi float64) {
	above, below := math.Max(p.Y, p.Hi) > hi, math.Min(p.Y, p.Lo) < lo
	if !above && !below {
		return
	}
	bounds := p.Bounds
	if bounds == "" {
		bounds = f(p.Lo) + " to " + f(p.Hi)
	}
	tip := fmt.Sprintf("%s %s: %s (%s), beyond the axis", name, tipTime(p.T, days), f(p.Y), bounds)
	if above {
		fmt.Fprintf(b, `<path class="clip %s" d="M%.1f %.1fl5 7h-10z"><title>%s</title></path>`, cls, px, top-7, esc(tip))
	}
	if below {
		fmt.Fprintf(b, `<path class="clip %s" d="M%.1f %.1fl5 -7h-10z"><title>%s</title></path>`, cls, px, bottom+7, esc(tip))
	}
}

// niceStep rounds a step up to 1, 2, 2.5 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// forestRow is one estimate with its interval in a forest plot.
type forestRow struct {
	Label    string
	Est      float64
	Lo, Hi   float64
	Emphasis bool // the row the verdict is about
	// Clip, when > 0, limits the interval drawn (and the axis) to ±Clip,
	// so that one very wide interval does not squeeze the others to dots;
	// its label still gives the whole interval.
	Clip float64
	// LoOpen and HiOpen mark an unbounded side (a one-sided test's): its
	// bound is not a figure, and the interval is drawn to the axis' end.
	LoOpen, HiOpen bool
}

// forestRowOf is the row of an estimate and its interval.
func forestRowOf(label string, est float64, iv stats.Interval) forestRow {
	return forestRow{Label: label, Est: est, Lo: iv.Lower, Hi: iv.Upper, LoOpen: iv.LowerUnbounded, HiOpen: iv.UpperUnbounded}
}

// drawn is the part of the row's interval that sets the axis: an open
// side only reaches the estimate there.
func (r forestRow) drawn() (lo, hi float64) {
	lo, hi = r.Lo, r.Hi
	if r.LoOpen {
		lo = r.Est
	}
	if r.HiOpen {
		hi = r.Est
	}
	if r.Clip > 0 {
		return math.Max(lo, -r.Clip), math.Min(hi, r.Clip)
	}
	return lo, hi
}

// bounds says the row's interval in words, an open side as ∞.
func (r forestRow) bounds(f func(float64) string) (lo, hi string) {
	return intervalSide(r.LoOpen, "-∞", r.Lo, f), intervalSide(r.HiOpen, "+∞", r.Hi, f)
}

func intervalSide(open bool, inf string, x float64, f func(float64) string) string {
	if open {
		return inf
	}
	return f(x)
}

// forestPlot draws estimates with intervals on one axis, with a line at
// zero and, when given, at the minimum effect worth shipping: fmtX writes
// the axis' ticks, fig the figures of a row's tooltip.
func forestPlot(title string, rows []forestRow, refs []refLine, fmtX, fig func(float64) string) template.HTML {
	return sized(chartWidths, func(b *strings.Builder, width int) { drawForest(b, title, rows, refs, fmtX, fig, float64(width)) })
}

// drawForest draws a forest plot width wide: each row's label left of
// its interval, or above it in a narrow drawing (where a label column
// would leave the intervals no room), with fewer ticks the narrower.
func drawForest(b *strings.Builder, title string, rows []forestRow, refs []refLine, fmtX, fig func(float64) string, width float64) {
	narrow := width < 480
	rowH, labelW, top := 34.0, 170.0, padT
	if narrow {
		// The reference labels get a line of their own above the rows.
		rowH, labelW, top = 44.0, 12.0, padT+14
	}
	height := top + rowH*float64(len(rows)) + padB
	lo, hi := 0.0, 0.0
	for _, r := range rows {
		rlo, rhi := r.drawn()
		lo, hi = math.Min(lo, rlo), math.Max(hi, rhi)
	}
	for _, r := range refs {
		lo, hi = math.Min(lo, r.Y), math.Max(hi, r.Y)
	}
	if hi == lo {
		hi, lo = hi+0.01, lo-0.01
	}
	pad := (hi - lo) * 0.08
	lo, hi = lo-pad, hi+pad
	step := niceStep((hi - lo) / math.Max(2, math.Floor(width/190))) // a tick per 190 units or so: 5 at 960, 3 at 600, 2 at 320
	lo, hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	w := width - labelW - padR - 20
	x := func(v float64) float64 { return labelW + w*(v-lo)/(hi-lo) }
	chartStart(b, "chart", title, int(width), height)
	for v := lo; v <= hi+step/2; v += step {
		anchor := "middle"
		switch {
		case v+step > hi+step/2:
			anchor = "end"
		case narrow && v == lo:
			anchor = "start" // the first tick at the drawing's left edge
		}
		fmt.Fprintf(b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, x(v), x(v), top, height-padB)
		fmt.Fprintf(b, `<text class="axis" x="%.1f" y="%.1f" text-anchor="%s">%s</text>`, x(v), height-10, anchor, esc(fmtX(v)))
	}
	fmt.Fprintf(b, `<line class="zero" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, x(0), x(0), top, height-padB)
	for _, r := range refs {
		fmt.Fprintf(b, `<line class="ref" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, x(r.Y), x(r.Y), top, height-padB)
		lx, anchor := x(r.Y)+3, "start"
		if bx := labelBox(r.Label, lx, 0, anchor); bx.x1 > width {
			lx, anchor = x(r.Y)-3, "end" // left of its line, inside the drawing
		}
		fmt.Fprintf(b, `<text class="reflabel" x="%.1f" y="%.1f" text-anchor="%s">%s</text>`, lx, padT+8, anchor, esc(r.Label))
	}
	for i, r := range rows {
		cy := top + rowH*(float64(i)+0.5)
		cls := "s1"
		if r.Emphasis {
			cls = "s0"
		}
		if narrow {
			fmt.Fprintf(b, `<text class="label" x="%.1f" y="%.1f">%s</text>`, labelW, cy-6, esc(r.Label))
			cy += 8
		} else {
			fmt.Fprintf(b, `<text class="label" x="8" y="%.1f">%s</text>`, cy+4, esc(r.Label))
		}
		x1, x2 := r.drawn()
		x1, x2 = x(x1), x(x2)
		if r.LoOpen { // to the axis' end, with an arrowhead
			x1 = x(lo)
			fmt.Fprintf(b, `<path class="open %s" d="M%.1f %.1fl7 -4v8z"/>`, cls, x1, cy)
		}
		if r.HiOpen {
			x2 = x(hi)
			fmt.Fprintf(b, `<path class="open %s" d="M%.1f %.1fl-7 -4v8z"/>`, cls, x2, cy)
		}
		fmt.Fprintf(b, `<line class="ci %s" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, cls, x1, x2, cy, cy)
		blo, bhi := r.bounds(fig)
		fmt.Fprintf(b, `<rect class="est %s" x="%.1f" y="%.1f" width="9" height="9"><title>%s: %s (%s to %s)</title></rect>`,
			cls, x(r.Est)-4.5, cy-4.5, esc(r.Label), esc(fig(r.Est)), esc(blo), esc(bhi))
	}
	b.WriteString(`</svg>`)
}

// tipTime writes a point's time in its tooltip as the page's tables write
// it: its day (2026-12-04) on a chart of days, else the moment with its
// zone (2026-12-04 16:23 UTC). The tooltips said "Dec 4 16:23", no zone,
// beside tables in UTC; the axis keeps its short labels.
func tipTime(t time.Time, days bool) string {
	if days {
		return t.Format(time.DateOnly)
	}
	return t.UTC().Format(whenLayout)
}

// sparkPoint is one week of a sparkline: its value, unless the week had
// nothing to measure (no deployment, no incident).
type sparkPoint struct {
	V  float64
	OK bool
}

// sparkline draws a small trend of values (oldest first), named by title
// (which gives every value in words), with its scale beside it: the
// highest and the lowest value written at its top and bottom, so that a
// reader can tell a rise from 1 to 2 from one from 1 to 200. A week with
// no value is a gap in the line: drawn as 0, a week without incidents
// showed as an instant recovery.
func sparkline(title string, values []sparkPoint, show func(float64) string) template.HTML {
	const w, h = 120.0, 28.0
	var b strings.Builder
	b.WriteString(`<span class="sparkbox">`)
	fmt.Fprintf(&b, `<svg class="spark" viewBox="0 0 %.0f %.0f" preserveAspectRatio="none" role="img"><title>%s</title>`, w, h, esc(title))
	lo, hi, known := math.Inf(1), math.Inf(-1), false
	for _, v := range values {
		if v.OK {
			lo, hi, known = math.Min(lo, v.V), math.Max(hi, v.V), true
		}
	}
	if known {
		top, bottom := hi, lo
		if hi == lo {
			hi, lo = hi+1, lo-1
		}
		// Runs of weeks with a value are lines; a week alone between gaps
		// is a dot (a round cap on no length), drawn thicker to be seen.
		var line, lone strings.Builder
		for i := 0; i < len(values); i++ {
			if !values[i].OK {
				continue
			}
			j := i
			for j+1 < len(values) && values[j+1].OK {
				j++
			}
			d := &line
			if i == j {
				d = &lone
			}
			for k := i; k <= j; k++ {
				px := 2 + (w-4)*float64(k)/math.Max(1, float64(len(values)-1))
				py := 3 + (h-6)*(1-(values[k].V-lo)/(hi-lo))
				if k == i {
					fmt.Fprintf(d, "M%.1f %.1fh0", px, py)
				} else {
					fmt.Fprintf(d, "L%.1f %.1f", px, py)
				}
			}
			i = j
		}
		for _, p := range []struct{ cls, d string }{{"line s0", line.String()}, {"line s0 lone", lone.String()}} {
			if p.d != "" {
				fmt.Fprintf(&b, `<path class="%s" vector-effect="non-scaling-stroke" stroke-linecap="round" d="%s"/>`, p.cls, p.d)
			}
		}
		b.WriteString(`</svg>`)
		// The title says every value: the scale is for the eye.
		fmt.Fprintf(&b, `<span class="smax" aria-hidden="true">%s</span><span class="smin" aria-hidden="true">%s</span>`, esc(show(top)), esc(show(bottom)))
	} else {
		b.WriteString(`</svg><span class="smax" aria-hidden="true">none</span>`)
	}
	b.WriteString(`</span>`)
	return template.HTML(b.String())
}

// meter draws a horizontal bar filled to pct percent (0–100).
func meter(title string, pct float64) template.HTML {
	pct = math.Max(0, math.Min(100, pct))
	return template.HTML(fmt.Sprintf(`<svg class="meter" viewBox="0 0 100 8" preserveAspectRatio="none" role="img"><title>%s</title><rect class="track" x="0" y="0" width="100" height="8" rx="2"/><rect class="fill" x="0" y="0" width="%.2f" height="8" rx="2"/></svg>`,
		esc(title), pct))
}

// box is a rectangle of a chart, in its coordinates (y down).
type box struct{ x0, y0, x1, y1 float64 }

func (a box) meets(b box) bool { return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1 }

// bandShape is an interval band as drawn: at each point's x, its top and
// bottom; one point is a vertical line.
type bandShape []struct{ x, top, bottom float64 }

// covers says whether the band covers any of r (sampled every 2px and at
// its points).
func (s bandShape) covers(r box) bool {
	if len(s) == 0 {
		return false
	}
	at := func(px float64) (top, bottom float64, ok bool) {
		if len(s) == 1 {
			return s[0].top, s[0].bottom, math.Abs(px-s[0].x) <= 1.5
		}
		for k := 1; k < len(s); k++ {
			a, b := s[k-1], s[k]
			if px >= a.x && px <= b.x {
				f := 0.0
				if b.x > a.x {
					f = (px - a.x) / (b.x - a.x)
				}
				return a.top + f*(b.top-a.top), a.bottom + f*(b.bottom-a.bottom), true
			}
		}
		return 0, 0, false
	}
	xs := []float64{r.x1}
	for px := r.x0; px < r.x1; px += 2 {
		xs = append(xs, px)
	}
	for _, p := range s {
		if p.x >= r.x0 && p.x <= r.x1 {
			xs = append(xs, p.x)
		}
	}
	for _, px := range xs {
		if top, bottom, ok := at(px); ok && r.y0 < bottom && top < r.y1 {
			return true
		}
	}
	return false
}

func bandShapes(ss []series, x func(time.Time) float64, y func(float64) float64) []bandShape {
	var out []bandShape
	for _, s := range ss {
		if !s.HasBand {
			continue
		}
		var b bandShape
		for _, p := range s.Points {
			b = append(b, struct{ x, top, bottom float64 }{x(p.T), y(p.Hi), y(p.Lo)})
		}
		out = append(out, b)
	}
	return out
}

// labelBox is the box of a reference label (11px text, about 6.5px a
// character, twice that for a wide one: termchart.Cells) written at x,
// baseline y, with anchor.
func labelBox(label string, x, y float64, anchor string) box {
	wd := 6.5*float64(termchart.Cells(label)) + 4
	x0 := x
	switch anchor {
	case "end":
		x0 = x - wd
	case "middle":
		x0 = x - wd/2
	}
	return box{x0, y - 11, x0 + wd, y + 3}
}

// legendSpots places lineChart's legend entries, above the plot's left, in lines
// that end before right (a narrow drawing's key takes two lines).
func legendSpots(ss []series, right, head float64) []struct{ x, y float64 } {
	spots := make([]struct{ x, y float64 }, len(ss))
	x, y := padL+8, head+4
	for i, s := range ss {
		if x > padL+8 && x+legendWidth(s.Name) > right {
			x, y = padL+8, y+16
		}
		spots[i].x, spots[i].y = x, y
		x += legendWidth(s.Name)
	}
	return spots
}

// legendBox is where lineChart's legend is, laid out at spots.
func legendBox(ss []series, spots []struct{ x, y float64 }, head float64) box {
	r := box{padL + 8, head + 4, padL + 8, head + 14}
	for i, s := range ss {
		r.x1 = math.Max(r.x1, spots[i].x+legendWidth(s.Name))
		r.y1 = math.Max(r.y1, spots[i].y+10)
	}
	return r
}

// legendEntry writes one entry of a chart's key at x, y (its top left): a
// swatch of class, as the marks it explains are drawn, and name beside
// it. It returns where the next entry goes.
func legendEntry(b *strings.Builder, class, name string, x, y float64) float64 {
	fmt.Fprintf(b, `<rect class="%s" x="%.1f" y="%.1f" width="10" height="10" rx="2"/>`, class, x, y)
	fmt.Fprintf(b, `<text class="legend" x="%.1f" y="%.1f">%s</text>`, x+14, y+9, esc(name))
	return x + legendWidth(name)
}

// legendWidth is the width an entry of a key takes: the swatch, the name
// (7 units a character at the legend's 12px, twice that for a wide one:
// CJK names overlapped the next entry) and a gap.
func legendWidth(name string) float64 { return 24 + 7*float64(termchart.Cells(name)) }

// placeRefLabel places the label of the reference line at lineY where it
// lies on no interval band and no label placed before (taken): just above
// or below the line, at the right end, the middle or the left. Labels
// alternate right and middle by default (i), so that close lines stay
// legible; when every place meets a band (one that covers the line all
// along) the default is kept, the label's halo keeping it legible.
func placeRefLabel(label string, i int, lineY, w float64, bands []bandShape, taken []box) (x, y float64, anchor string) {
	type spot struct {
		x      float64
		anchor string
	}
	right, middle, left := spot{padL + w - 4, "end"}, spot{padL + w*0.5, "middle"}, spot{padL + 4, "start"}
	spots := []spot{right, middle, left, {padL + w*0.75, "middle"}, {padL + w*0.25, "middle"}}
	if i%2 == 1 {
		spots[0], spots[1] = middle, right
	}
	for _, dy := range []float64{-4, 14} {
		for _, sp := range spots {
			bx := labelBox(label, sp.x, lineY+dy, sp.anchor)
			clear := true
			for _, b := range bands {
				clear = clear && !b.covers(bx)
			}
			for _, t := range taken {
				clear = clear && !t.meets(bx)
			}
			if clear {
				return sp.x, lineY + dy, sp.anchor
			}
		}
	}
	return spots[0].x, lineY - 4, spots[0].anchor
}
