package metric_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/valueloop/valueloop/metric"
)

// A metric's window is written as seconds and read as seconds or as the
// "7d"-style strings of definitions stored before durations became seconds.
func TestWindowJSON(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{`"7d"`, `604800`}, {`"90m"`, `5400`}, {`3600`, `3600`}, {`0.5`, `0.5`},
	} {
		var w metric.Window
		if err := json.Unmarshal([]byte(c.in), &w); err != nil {
			t.Errorf("unmarshal %s: %v", c.in, err)
			continue
		}
		if out, _ := json.Marshal(w); string(out) != c.out {
			t.Errorf("%s → %s, want %s", c.in, out, c.out)
		}
	}
	var w metric.Window
	if err := json.Unmarshal([]byte(`"soon"`), &w); err == nil {
		t.Error(`"soon": want an error`)
	}
}

// Days are UTC days of event times in milliseconds, before 1970 too, and a
// day's users have had a window once the day's end plus the window has
// passed, not before.
func TestExposureDays(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), "2026-03-01"},
		{time.Date(2026, 3, 1, 23, 59, 59, 999e6, time.UTC), "2026-03-01"},
		{time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), "1969-12-31"},
	} {
		d := metric.DayOf(c.t.UnixMilli())
		if got := metric.DayLabel(d); got != c.want {
			t.Errorf("%v: day %s, want %s", c.t, got, c.want)
		}
		if back, err := metric.ParseDayLabel(c.want); err != nil || back != d {
			t.Errorf("ParseDayLabel(%s) = %d, %v; want %d", c.want, back, err, d)
		}
	}
	day := metric.DayOf(time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC).UnixMilli())
	w := metric.Window(72 * time.Hour)
	closes := time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)
	if metric.WindowClosed(day, w, closes.Add(-time.Nanosecond)) || !metric.WindowClosed(day, w, closes) {
		t.Errorf("the 7th's 3-day windows close on the 11th at 00:00 UTC")
	}
	if _, err := metric.ParseDayLabel("2026-3-1"); err == nil {
		t.Error("ParseDayLabel(2026-3-1): want an error")
	}
}
