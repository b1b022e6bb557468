package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// timeAxis writes the labels under a line chart's plot (from top to
// bottom, in a drawing of height), the plot running from t0 to t1: a
// single point's time under it (its day's name for days), never the hour
// padded around it; else the first and last times at the ends and, between
// them, round times (timeTicks), each with a grid line, where its label
// clears the others.
func timeAxis(b *strings.Builder, days, single bool, t0, t1 time.Time, x func(time.Time) float64, top, bottom float64, height int) {
	layout := shortLayout
	if days {
		layout = dayLayout
	}
	ly := float64(height - 8)
	if single {
		mid := t0.Add(time.Hour) // drawLines pads a single point by an hour either side
		fmt.Fprintf(b, `<text class="axis" x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, x(mid), ly, mid.Format(layout))
		return
	}
	ticks := timeTicks(t0, t1, x(t1)-x(t0), days)
	ends := []timeTick{{t0, endLabel(t0, layout)}, {t1, endLabel(t1, layout)}}
	endBoxes := []box{labelBox(ends[0].label, x(t0), ly, "start"), labelBox(ends[1].label, x(t1), ly, "end")}
	shown := placeTicks(ticks, x, ly, x(t1)+padR, endBoxes)
	if len(shown) == 0 && len(ticks) > 0 {
		// A narrow drawing has no room between its ends' labels: the
		// round times alone say when, the first with its day.
		endBoxes = nil
		ticks = slices.Clone(ticks)
		if first := ticks[0]; strings.Contains(first.label, ":") {
			ticks[0].label = first.t.Format(shortLayout)
		}
		shown = placeTicks(ticks, x, ly, x(t1)+padR, nil)
	}
	anchors := []string{"start", "end"}
	for i := range endBoxes {
		fmt.Fprintf(b, `<text class="axis" x="%.1f" y="%.0f" text-anchor="%s">%s</text>`, x(ends[i].t), ly, anchors[i], ends[i].label)
	}
	for _, tk := range shown {
		px := x(tk.t)
		fmt.Fprintf(b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, px, px, top, bottom)
		fmt.Fprintf(b, `<text class="axis" x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, px, ly, tk.label)
	}
}

// endLabel is the label of an end of the time axis: its day alone at
// midnight.
func endLabel(t time.Time, layout string) string {
	if t.Hour() == 0 && t.Minute() == 0 {
		return t.Format(dayLayout)
	}
	return t.Format(layout)
}

// placeTicks are those of ticks whose labels, centred under them at
// baseline ly, clear each other and taken by a gap and lie within the
// drawing (whose right edge is right).
func placeTicks(ticks []timeTick, x func(time.Time) float64, ly, right float64, taken []box) []timeTick {
	taken = slices.Clone(taken)
	var shown []timeTick
	for _, tk := range ticks {
		bx := labelBox(tk.label, x(tk.t), ly, "middle")
		bx.x0, bx.x1 = bx.x0-tickGap/2, bx.x1+tickGap/2
		clear := bx.x0 >= 0 && bx.x1 <= right+tickGap/2
		for _, t := range taken {
			clear = clear && !t.meets(bx)
		}
		if clear {
			taken = append(taken, bx)
			shown = append(shown, tk)
		}
	}
	return shown
}

// tickGap is the least room between two labels of the time axis, and
// tickLabelW the width of the widest of its round times ("Nov 17",
// labelBox's 6.5 units a character).
const tickGap, tickLabelW = 12.0, 6.5*6 + 4

type timeTick struct {
	t     time.Time
	label string
}

// tickStep is one spacing of round times: n hours, days or months.
type tickStep struct {
	n    int
	unit string // "h", "d", "mo"
}

func (s tickStep) approx() time.Duration {
	switch s.unit {
	case "h":
		return time.Duration(s.n) * time.Hour
	case "d":
		return time.Duration(s.n) * 24 * time.Hour
	}
	return time.Duration(s.n) * 30 * 24 * time.Hour
}

var tickSteps = []tickStep{{1, "h"}, {2, "h"}, {3, "h"}, {6, "h"}, {12, "h"},
	{1, "d"}, {2, "d"}, {7, "d"}, {14, "d"}, {1, "mo"}, {3, "mo"}, {6, "mo"}, {12, "mo"}}

// timeTicks are the round times strictly between t0 and t1, drawn over px
// pixels: whole hours (every 1, 2, 3, 6 or 12, a midnight named by its
// day), midnights (every day, every other, Mondays every week or two) or
// firsts of months, the nearest that leave each label its width and a
// gap. Charts of days (days) have no hours.
func timeTicks(t0, t1 time.Time, px float64, days bool) []timeTick {
	span := t1.Sub(t0)
	if span <= 0 || px <= 0 {
		return nil
	}
	var step tickStep
	for _, s := range tickSteps {
		step = s
		if (days && s.unit == "h") || px*float64(s.approx())/float64(span) < tickLabelW+tickGap {
			continue
		}
		break
	}
	loc := t0.Location()
	y, m, d := t0.Date()
	var ticks []timeTick
	switch step.unit {
	case "h":
		for t := time.Date(y, m, d, 0, 0, 0, 0, loc); t.Before(t1); t = t.Add(step.approx()) {
			if t.After(t0) {
				label := t.Format("15:04")
				if t.Hour() == 0 {
					label = t.Format(dayLayout)
				}
				ticks = append(ticks, timeTick{t, label})
			}
		}
	case "d":
		for t := time.Date(y, m, d, 0, 0, 0, 0, loc); t.Before(t1); t = t.AddDate(0, 0, 1) {
			n := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400
			if step.n >= 7 {
				n += 3 // the epoch was a Thursday: weeks start on Mondays
			}
			if t.After(t0) && n%int64(step.n) == 0 {
				ticks = append(ticks, timeTick{t, t.Format(dayLayout)})
			}
		}
	default:
		for t := time.Date(y, m, 1, 0, 0, 0, 0, loc); t.Before(t1); t = t.AddDate(0, 1, 0) {
			if t.After(t0) && (int(t.Month())-1)%step.n == 0 {
				ticks = append(ticks, timeTick{t, t.Format(dayLayout)})
			}
		}
	}
	return ticks
}
