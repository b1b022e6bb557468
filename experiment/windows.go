package experiment

import (
	"fmt"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
)

// OpenWindows are the users of a metric with a window whose window may still
// be open at the time of the analysis (Input.Now): those first exposed on a
// UTC day whose end plus the window has not passed. Whole days, so that the
// users left out are those of whole cells (metric.ExposureDayDimension) and
// the figures stay exact sums: a user first exposed at 00:01 counts as open
// until the window has passed since the day's end.
type OpenWindows struct {
	// Users counts them, over the arms analysed: every user of those days,
	// with a value of the metric or not.
	Users int64 `json:"users"`
	// Excluded: they are left out of the metric's figures
	// (Settings.ExcludeOpenWindows). Otherwise they count with the events
	// sent so far: a conversion not yet made as none, a count or a sum as
	// what it is so far.
	Excluded bool `json:"excluded"`
	// ClosedThrough is the last UTC day of first exposure ("2006-01-02")
	// whose users have all had their whole window; absent when none has.
	ClosedThrough string `json:"closedThrough,omitempty"`
	// Note says the above in a sentence, for the results page and the CLI.
	Note string `json:"note"`
}

// windowState is what openWindows found: per metric key with a window, its
// users of open days per variant and the last closed day.
type windowState map[string]windowCounts

type windowCounts struct {
	users map[string]int64 // per variant, the users of days still open
	// periods are the same per variant and period of the split (its
	// start, Aggregate.Period): what a fixed plan's rule leaves out of the
	// users of each period when they are excluded.
	periods  map[variantPeriod]int64
	closed   int64 // last closed day (metric.DayOf)
	excluded bool
}

type variantPeriod struct {
	variant string
	period  int64
}

// closedThrough is the last UTC day whose users have all had a window of w
// by now: the day d with (d + 1) days + w ≤ now (metric.WindowClosed).
func closedThrough(w metric.Window, now time.Time) int64 {
	d := metric.DayOf(now.Add(-time.Duration(w)).UnixMilli()) - 1
	for !metric.WindowClosed(d, w, now) { // rounding at the boundary
		d--
	}
	for metric.WindowClosed(d+1, w, now) {
		d++
	}
	return d
}

// ClosedThrough is, for each metric of ms with a window, the last UTC day
// (metric.DayOf) whose users have all had their window at now: what of an
// analysis changes with time alone, for a caller that keeps results.
func ClosedThrough(ms []metric.Metric, now time.Time) []int64 {
	var out []int64
	for _, m := range ms {
		if m.Window > 0 {
			out = append(out, closedThrough(m.Window, now))
		}
	}
	return out
}

// openWindows counts, per metric of ms with a window, the users of in.Days
// whose window may still be open; with Settings.ExcludeOpenWindows it
// replaces in.Aggregates (a copy) by the sums of the closed days of those
// metrics, so that the analysis reads only users whose window has ended:
// the cells of all users less those of the open days. The cells of the
// days add up exactly to the cells of all users (ingest keeps both by the
// same deltas), so these are the exact figures of those users, and
// in.Days need hold only the open days (ReadDays reads no more).
func openWindows(in *Input, ms []metric.Metric) (windowState, error) {
	exclude := in.Settings.ExcludeOpenWindows
	var windowed []metric.Metric
	for _, m := range ms {
		if m.Window > 0 {
			windowed = append(windowed, m)
		}
	}
	if len(windowed) == 0 {
		return nil, nil
	}
	if in.Now.IsZero() {
		if exclude {
			return nil, valueloop.FieldErrorf("settings.excludeOpenWindows", "needs the cells by day of first exposure, which this analysis did not read")
		}
		return nil, nil
	}
	if exclude && in.Dimension != "" {
		return nil, valueloop.FieldErrorf("settings.excludeOpenWindows", "cannot be applied to results by dimension: the cells by dimension are not kept by day of first exposure; leave out the dimension or the setting")
	}
	type cell struct {
		variant, metric string
		period          int64
	}
	st := windowState{}
	openSums := map[cell]metric.Sums{}
	for _, m := range windowed {
		st[m.Key] = windowCounts{users: map[string]int64{}, periods: map[variantPeriod]int64{}, closed: closedThrough(m.Window, in.Now), excluded: exclude}
	}
	for _, a := range in.Days {
		if a.Flag != in.Flag || a.Variant == "" || a.Dimension != metric.ExposureDayDimension {
			continue
		}
		day, err := metric.ParseDayLabel(a.Value)
		if err != nil {
			return nil, fmt.Errorf("experiment: cells of flag %s: %w", in.Flag, err)
		}
		if a.Metric == "" {
			for _, wc := range st {
				if day > wc.closed {
					wc.users[a.Variant] += a.Sums.N
					wc.periods[variantPeriod{a.Variant, a.Period}] += a.Sums.N
				}
			}
			continue
		}
		if wc, ok := st[a.Metric]; ok && exclude && day > wc.closed {
			k := cell{a.Variant, a.Metric, a.Period}
			s := openSums[k]
			s.Add(a.Sums)
			openSums[k] = s
		}
	}
	if exclude {
		aggs := make([]metric.Aggregate, len(in.Aggregates))
		for i, a := range in.Aggregates {
			if _, ok := st[a.Metric]; ok && a.Flag == in.Flag && a.Variant != "" && a.Dimension == "" {
				a.Sums.Sub(openSums[cell{a.Variant, a.Metric, a.Period}])
			}
			aggs[i] = a
		}
		in.Aggregates = aggs
	}
	return st, nil
}

// of returns the OpenWindows of metric m over arms; nil for a metric
// without a window or an analysis without the days.
func (st windowState) of(m metric.Metric, arms []Variant) *OpenWindows {
	wc, ok := st[m.Key]
	if !ok {
		return nil
	}
	ow := &OpenWindows{Excluded: wc.excluded}
	for _, a := range arms {
		ow.Users += wc.users[a.Name]
	}
	if wc.closed >= 0 {
		ow.ClosedThrough = metric.DayLabel(wc.closed)
	}
	switch {
	case ow.Users == 0:
		ow.Note = fmt.Sprintf("every user's %s window has ended", m.Window)
	case wc.excluded:
		ow.Note = fmt.Sprintf("%d users whose %s window may still be open (first exposed after %s UTC) are left out of this metric", ow.Users, m.Window, closedLabel(ow))
	default:
		ow.Note = fmt.Sprintf("%d users' %s windows may still be open (first exposed after %s UTC): they count with the events sent so far, a conversion not yet made as none; excludeOpenWindows leaves them out", ow.Users, m.Window, closedLabel(ow))
	}
	return ow
}

func closedLabel(ow *OpenWindows) string {
	if ow.ClosedThrough == "" {
		return "the start"
	}
	return ow.ClosedThrough
}

// unread is the users of variant first exposed in the period of the split
// starting at period (in any, when all) whom metric key leaves out: those
// whose window may still be open, when excludeOpenWindows excludes them;
// 0 otherwise.
func (st windowState) unread(key, variant string, period int64, all bool) int64 {
	wc, ok := st[key]
	switch {
	case !ok || !wc.excluded:
		return 0
	case all:
		return wc.users[variant]
	}
	return wc.periods[variantPeriod{variant, period}]
}
