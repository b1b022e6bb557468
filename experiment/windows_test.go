package experiment

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
)

// windowInput is a hand-made experiment with a 3-day conversion window:
// on each of days 1..10 of March 2026 one control and one treatment user
// are first exposed at noon UTC. Every treatment user converts an hour
// later; the control users of even days two days later; events after now
// (the 10th, 23:00) have not happened yet. The cells come from ingest, as a
// server keeps them.
func windowInput(t *testing.T, now time.Time) Input {
	t.Helper()
	ms := []metric.Metric{{Key: "purchase-3d", Kind: metric.Conversion, Event: "purchase", Window: metric.Window(72 * time.Hour)}}
	if err := ms[0].Normalize(); err != nil {
		t.Fatal(err)
	}
	var events []ingest.Event
	add := func(ev ingest.Event) {
		if ev.Time <= now.UnixMilli() {
			ev.ID, ev.TimeSet = fmt.Sprintf("e%d", len(events)), true
			events = append(events, ev)
		}
	}
	for d := 1; d <= 10; d++ {
		t0 := time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC)
		for _, v := range []string{"control", "treatment"} {
			key := fmt.Sprintf("%s-%d", v, d)
			add(ingest.Event{Type: ingest.Exposure, TargetingKey: key, Flag: "checkout", Variant: v, Time: t0.UnixMilli()})
			switch {
			case v == "treatment":
				add(ingest.Event{Type: ingest.Tracking, TargetingKey: key, Name: "purchase", Time: t0.Add(time.Hour).UnixMilli()})
			case d%2 == 0:
				add(ingest.Event{Type: ingest.Tracking, TargetingKey: key, Name: "purchase", Time: t0.Add(48 * time.Hour).UnixMilli()})
			}
		}
	}
	aggs, _, err := ingest.Recompute(ms, func(fn func(*ingest.Event) error) error {
		for i := range events {
			if err := fn(&events[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Environment: "prod", Flag: "checkout", Metrics: ms, Settings: DefaultSettings(), Now: now}
	in.Settings.Weights = map[string]float64{"control": 1, "treatment": 1}
	in.SetCells(aggs)
	return in
}

// On the 10th at 23:00 a user first exposed on day d has surely had the
// whole 3-day window when the day's end plus 3 days has passed: d + 4 ≤ 10,
// so days 1..6. The user of the 7th, exposed at noon, had it until the
// 10th at noon, but the cells are by whole days: the 7th counts as open.
// Open: days 7..10, two users each.
func TestOpenWindowsHandComputed(t *testing.T) {
	now := time.Date(2026, 3, 10, 23, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		exclude              bool
		users                [2]int64
		control, treatment   float64
		closedThrough, phase string
	}{
		// All 10 per arm: control converted on days 2, 4, 6, 8 (the 10th's
		// purchase is due on the 12th), treatment every day.
		{false, [2]int64{10, 10}, 0.4, 1, "2026-03-06", "included"},
		// Days 1..6 only: control 2, 4, 6 of 6.
		{true, [2]int64{6, 6}, 0.5, 1, "2026-03-06", "excluded"},
	} {
		t.Run(c.phase, func(t *testing.T) {
			in := windowInput(t, now)
			in.Settings.ExcludeOpenWindows = c.exclude
			res, err := Analyze(in)
			if err != nil {
				t.Fatal(err)
			}
			if res.Users != 20 || res.Variants[0].Users != 10 {
				t.Errorf("users %d (control %d), want 20 and 10: the variants count everyone", res.Users, res.Variants[0].Users)
			}
			m := res.Metrics[0]
			for i, want := range []float64{c.control, c.treatment} {
				v := m.Variants[i]
				if v.Users != c.users[i] || v.Mean == nil || *v.Mean != want {
					t.Errorf("%s: users %d, mean %v; want %d and %v", v.Variant, v.Users, v.Mean, c.users[i], want)
				}
			}
			ow := m.OpenWindows
			if ow == nil || ow.Users != 8 || ow.Excluded != c.exclude || ow.ClosedThrough != c.closedThrough {
				t.Fatalf("openWindows = %+v, want 8 users, excluded %v, closed through %s", ow, c.exclude, c.closedThrough)
			}
			if want := "8 users"; len(ow.Note) < len(want) || ow.Note[:len(want)] != want {
				t.Errorf("note %q, want it to begin %q", ow.Note, want)
			}
		})
	}
}

// Once every window has closed, leaving out the open ones changes nothing:
// the cells of the days add up to the cells of all users exactly, so the
// figures are the same bit for bit.
func TestExcludeOpenWindowsExactWhenAllClosed(t *testing.T) {
	now := time.Date(2026, 3, 10, 23, 0, 0, 0, time.UTC)
	in := windowInput(t, now)
	in.Now = now.Add(5 * 24 * time.Hour) // the same events, read later
	all, err := Analyze(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Settings.ExcludeOpenWindows = true
	closed, err := Analyze(in)
	if err != nil {
		t.Fatal(err)
	}
	a, b := all.Metrics[0], closed.Metrics[0]
	if a.OpenWindows.Users != 0 || b.OpenWindows.Users != 0 || b.OpenWindows.ClosedThrough != "2026-03-11" {
		t.Fatalf("open windows %+v and %+v, want none, closed through 2026-03-11", a.OpenWindows, b.OpenWindows)
	}
	a.OpenWindows, b.OpenWindows = nil, nil
	if !reflect.DeepEqual(a, b) {
		t.Errorf("with every window closed, excluding the open ones changed the result:\n%+v\n%+v", a, b)
	}
}

// The setting needs the days: an analysis that did not read them, or one
// split by a dimension (whose cells are not kept by day), refuses it rather
// than counting the open windows silently.
func TestExcludeOpenWindowsRefused(t *testing.T) {
	now := time.Date(2026, 3, 10, 23, 0, 0, 0, time.UTC)
	in := windowInput(t, now)
	in.Settings.ExcludeOpenWindows = true
	in.Now, in.Days = time.Time{}, nil
	if _, err := Analyze(in); !fieldError(err, "settings.excludeOpenWindows") {
		t.Errorf("without the days: %v, want an EINVALID error naming settings.excludeOpenWindows", err)
	}
	in = windowInput(t, now)
	in.Settings.ExcludeOpenWindows = true
	in.Dimensions = []metric.Dimension{{Name: "country", Values: []string{"US"}}}
	in.Dimension = "country"
	if _, err := Analyze(in); !fieldError(err, "settings.excludeOpenWindows") {
		t.Errorf("by dimension: %v, want an EINVALID error naming settings.excludeOpenWindows", err)
	}
	var s Settings
	if err := s.Set("excludeOpenWindows", "maybe"); err == nil || s.ExcludeOpenWindows {
		t.Errorf("excludeOpenWindows=maybe: %v, %v; want an error and nothing set", err, s.ExcludeOpenWindows)
	}
	if err := s.Set("excludeOpenWindows", "on"); err != nil || !s.ExcludeOpenWindows {
		t.Errorf("excludeOpenWindows=on: %v, %v", err, s.ExcludeOpenWindows)
	}
}

// fieldError reports whether err is an EINVALID error naming field.
func fieldError(err error, field string) bool {
	e, ok := err.(*valueloop.Error)
	return ok && e.Code == valueloop.EINVALID && e.Field == field
}

// A recomputation returns the cells by day of exposure (and those of the
// users outside the split, and the slices) beside the cells of all users;
// an analysis given them all among its aggregates, as the dashboard's
// interval over time did, counted every user twice.
func TestAnalyzeCountsTheCellsOfAllUsersOnly(t *testing.T) {
	in := windowInput(t, time.Date(2026, 3, 10, 23, 0, 0, 0, time.UTC))
	want, err := Analyze(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Aggregates = append(append([]metric.Aggregate(nil), in.Aggregates...), in.Days...)
	got, err := Analyze(in)
	if err != nil {
		t.Fatal(err)
	}
	if got.Users != want.Users || !reflect.DeepEqual(got.Metrics, want.Metrics) {
		t.Errorf("with the days' cells among the aggregates: %d users, metrics %+v; want %d, %+v", got.Users, got.Metrics, want.Users, want.Metrics)
	}
}

// daysFrom serves the cells of all users and by day of first exposure of
// the days from a day on, as the stores' DayAggregatesFrom does, and says
// which it read.
type daysFrom struct {
	all, days []metric.Aggregate
	from      string
}

func (d *daysFrom) DimensionAggregates(context.Context, string, string, string) ([]metric.Aggregate, error) {
	return nil, errors.New("read every day")
}

func (d *daysFrom) DayAggregatesFrom(_ context.Context, _, _, from string) ([]metric.Aggregate, error) {
	d.from = from
	out := slices.Clone(d.all)
	for _, a := range d.days {
		if a.Value >= from {
			out = append(out, a)
		}
	}
	return out, nil
}

// TestReadDaysReadsOpenDays: an analysis reads the cells of the days whose
// windows may still be open only, not every day the flag has run (a
// year's are read at every results request and verdict check), and its
// figures are those of every day, bit for bit: the closed days are all
// users' cells less the open days'. Before, it read every day, and the
// closed days' figures were their own cells' sums.
func TestReadDaysReadsOpenDays(t *testing.T) {
	now := time.Date(2026, 3, 10, 23, 0, 0, 0, time.UTC)
	for _, exclude := range []bool{false, true} {
		in := windowInput(t, now)
		in.Settings.ExcludeOpenWindows = exclude
		want, err := Analyze(in)
		if err != nil {
			t.Fatal(err)
		}
		r := &daysFrom{all: in.Aggregates, days: in.Days}
		in.Days, in.Aggregates = nil, nil
		if err := ReadDays(t.Context(), r, &in); err != nil {
			t.Fatal(err)
		}
		if r.from != "2026-03-07" || len(in.Days) == 0 || len(in.Aggregates) == 0 || slices.ContainsFunc(in.Days, func(a metric.Aggregate) bool { return a.Value < "2026-03-07" }) {
			t.Fatalf("read the days from %q (%d cells), want from 2026-03-07, the first still open", r.from, len(in.Days))
		}
		got, err := Analyze(in)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("exclude %v: from the open days\n%+v\nfrom every day\n%+v", exclude, got.Metrics[0], want.Metrics[0])
		}
	}
}
