// Package termchart draws figures for a terminal in plain text: filled
// bars, sparklines, short durations, a redrawn progress line, and tables
// aligned in terminal cells. It knows nothing of what the figures mean;
// the commands in cmd/valueloop decide what to draw and where.
package termchart

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Bar draws percent (0-100) of width cells in eighths of a cell, between
// brackets, the rest dotted: [████▌·····]. A share outside 0-100 (or NaN)
// fills the bar or leaves it empty, within its width.
func Bar(percent float64, width int) string {
	if !(percent > 0) {
		percent = 0
	}
	eighths := int(math.Round(min(percent, 100) / 100 * float64(width*8)))
	full, part := eighths/8, eighths%8
	var b strings.Builder
	b.WriteString(strings.Repeat("█", full))
	if part > 0 {
		b.WriteRune([]rune("▏▎▍▌▋▊▉")[part-1])
		full++
	}
	b.WriteString(strings.Repeat("·", max(0, width-full)))
	return "[" + b.String() + "]"
}

// Sparkline draws one character per value: '·' where ok is false (the
// figure is undefined), '▁' for zero, and ▂ to █ in proportion to the
// largest value. Past most values it shows the latest ones after '…'.
func Sparkline(vals []float64, ok []bool, most int) string {
	prefix := ""
	if len(vals) > most {
		vals, ok, prefix = vals[len(vals)-most:], ok[len(ok)-most:], "…"
	}
	top := 0.0
	for i, v := range vals {
		if ok[i] {
			top = math.Max(top, v)
		}
	}
	levels := []rune("▂▃▄▅▆▇█")
	var b strings.Builder
	b.WriteString(prefix)
	for i, v := range vals {
		switch {
		case !ok[i]:
			b.WriteRune('·')
		case v <= 0 || top == 0:
			b.WriteRune('▁')
		default:
			k := int(math.Ceil(v/top*float64(len(levels)))) - 1
			b.WriteRune(levels[min(max(k, 0), len(levels)-1)])
		}
	}
	return b.String()
}

// RateUnit is a unit of a rate of events: per day, week or month (30
// days). RateUnitFor(v).Format(v) writes one rate in the unit that reads
// best: 1.1/day, 6.8/week, 4.3/month (DORA's deployment frequency).
type RateUnit struct {
	Name string
	Days float64
}

// The units RateUnitFor chooses from; a caller gets one from it, for its
// figures, not by name.
var (
	perDayUnit   = RateUnit{"day", 1}
	perWeekUnit  = RateUnit{"week", 7}
	perMonthUnit = RateUnit{"month", 30}
)

// RateUnitFor is the one unit for a column of rates per day (a table's
// deployment frequencies, a trend's weeks): the unit that reads best for
// the smallest rate that is not zero, so that no figure of the column reads
// 0.0 and they compare at a glance (2.0/day beside 0.2/week read as if
// the second were the larger). Zeros read in any unit: alone, per day.
func RateUnitFor(perDay ...float64) RateUnit {
	least := math.Inf(1)
	for _, v := range perDay {
		if v > 0 {
			least = math.Min(least, v)
		}
	}
	switch {
	case math.IsInf(least, 1) || least >= 1:
		return perDayUnit
	case least >= 1.0/7:
		return perWeekUnit
	}
	return perMonthUnit
}

// Format writes a rate of events per day in the unit: 2.0/week.
func (u RateUnit) Format(perDay float64) string {
	if perDay == 0 {
		return "0/" + u.Name
	}
	return fmt.Sprintf("%.1f/%s", perDay*u.Days, u.Name)
}

// Lift writes a measured relative change (a lift, a guardrail's change, an
// end of their intervals) to one decimal, signed: +21.9%, +1.0%, +0.0%.
// The CLI and the dashboard both write them with it, so that one figure
// reads the same in both.
func Lift(x float64) string { return fmt.Sprintf("%+.1f%%", 100*x) }

// Duration writes a duration with its two largest units: 45s, 12m,
// 5h12m, 3d4h (35d for whole days), rounded to the last unit written (17.98s is 18s, not 17s;
// 59.6s is 1m), so that a figure near a unit's end takes the next one.
func Duration(d time.Duration) string {
	if r := d.Round(time.Second); r < time.Minute {
		return fmt.Sprintf("%ds", int(r.Seconds()))
	}
	if r := d.Round(time.Minute); r < time.Hour {
		return fmt.Sprintf("%dm", int(r.Minutes()))
	} else if r < 24*time.Hour {
		h := int(r.Hours())
		return fmt.Sprintf("%dh%02dm", h, int(r.Minutes())-60*h)
	}
	r := d.Round(time.Hour)
	days := int(r.Hours() / 24)
	if h := int(r.Hours()) - 24*days; h != 0 {
		return fmt.Sprintf("%dd%dh", days, h)
	}
	return fmt.Sprintf("%dd", days) // "35d", not "35d0h"
}

// Interval is an interval drawn on a track of Width cells: ├───●───┤ from
// cell From to cell To with the estimate at Est, zero marked at Zero (│, or
// ┼ inside the interval), and an arrow (◄ or ►) at an end that runs off
// the track. The caller maps its values to cells, so that each chart keeps
// its own axis.
type Interval struct {
	Width             int
	From, To, Zero    int
	Est               int
	OffLeft, OffRight bool
	// Mark, when Mark is set, puts the rune Mark at cell MarkAt before the
	// estimate is drawn (a tolerated limit, say).
	Mark   rune
	MarkAt int
	// EstOff says the estimate lies past the axis: it is not drawn, as
	// Est (clamped to an end) would show it at that end's value; the
	// arrow of OffLeft or OffRight stands for it.
	EstOff bool
}

// String draws the interval.
func (iv Interval) String() string {
	cells := []rune(strings.Repeat(" ", iv.Width))
	for i := iv.From; i <= iv.To; i++ {
		cells[i] = '─'
	}
	cells[iv.Zero] = '│'
	if iv.From <= iv.Zero && iv.Zero <= iv.To {
		cells[iv.Zero] = '┼'
	}
	cells[iv.From], cells[iv.To] = '├', '┤'
	if iv.OffLeft {
		cells[iv.From] = '◄'
	}
	if iv.OffRight {
		cells[iv.To] = '►'
	}
	if iv.Mark != 0 {
		cells[iv.MarkAt] = iv.Mark
	}
	if !iv.EstOff {
		cells[iv.Est] = '●'
	}
	return string(cells)
}
