package value

import (
	"slices"
	"testing"
	"time"

	"github.com/valueloop/valueloop/experiment"
)

// TestObjectiveProgress is worked by hand. Now is 2026-10-02 00:00 UTC;
// the horizon 2026-12-31 ends at 2027-01-01 00:00, 91 days later.
func TestObjectiveProgress(t *testing.T) {
	now := time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)
	horizon, _ := ParseDate("2026-12-31")
	past, _ := ParseDate("2026-09-30")
	verdict := func(key, metric string, st Stage, at time.Time, effect *float64, absolute bool) Item {
		f := &Feature{Key: key, Objective: "o", Hypothesis: Hypothesis{Change: key, Metric: metric, Absolute: absolute}}
		l := &Lifecycle{Stage: st, Verdict: &Event{Kind: VerdictRecorded, Stage: st, At: at, Effect: effect}}
		return Item{Feature: f, Lifecycle: l}
	}
	e := func(x float64) *float64 { return &x }
	before, after := now.AddDate(0, 0, -5), time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC)
	items := []Item{
		verdict("v1", "m", Validated, before, e(0.05), false),
		verdict("v2", "", Validated, before, e(0.03), false), // no metric stated: the objective's
		verdict("v3", "other", Validated, before, e(0.02), false),
		verdict("v4", "m", Invalidated, before, e(0.01), false), // not validated: ignored
		verdict("v5", "m", Validated, after, e(0.04), false),
		verdict("v6", "m", Validated, before, nil, false),
		verdict("a1", "m", Validated, before, e(0.5), true),
		verdict("a2", "m", Validated, before, e(0.7), true),
	}
	for _, tc := range []struct {
		name      string
		o         Objective
		items     []Item
		counted   []string
		uncounted int
		measured  float64
		share     float64
		daysLeft  float64
		summary   string
	}{
		// Relative +10 %: v1 and v2 compound, 1.05 × 1.03 − 1 = 0.0815,
		// 0.0815 / 0.10 = 0.815; v3 (other metric), v5 (after the horizon),
		// v6 (no effect), a1 and a2 (absolute) do not count.
		{"relative increase", Objective{Key: "o", Metric: "m", Target: Target{Direction: experiment.Increase, Value: 0.10}, Horizon: horizon},
			items, []string{"v1", "v2"}, 5, 0.0815, 0.815, 91,
			"+8.15% of +10% measured ((1+0.05)×(1+0.03)−1 from 2 validated) = 81.5% of the target, 91 days left to the horizon 2026-12-31"},
		// Absolute +2: a1 and a2 add, 0.5 + 0.7 = 1.2, 1.2 / 2 = 0.6.
		{"absolute increase", Objective{Key: "o", Metric: "m", Target: Target{Direction: experiment.Increase, Value: 2, Absolute: true}, Horizon: horizon},
			items, []string{"a1", "a2"}, 5, 1.2, 0.6, 91,
			"+1.2 of +2 measured (+0.5 + +0.7 from 2 validated) = 60% of the target, 91 days left to the horizon 2026-12-31"},
		// Relative −5 %: falls of 2 % and 1 % compound, 0.98 × 0.99 − 1 =
		// −0.0298, turned to the target's direction 0.0298; 0.0298 / 0.05 =
		// 0.596. The horizon 2026-09-30 ended 2026-10-01, one day ago.
		{"decrease, horizon passed", Objective{Key: "o", Metric: "m", Target: Target{Direction: experiment.Decrease, Value: 0.05}, Horizon: past},
			[]Item{verdict("d1", "m", Validated, now.AddDate(0, 0, -30), e(-0.02), false), verdict("d2", "m", Validated, now.AddDate(0, 0, -20), e(-0.01), false)},
			[]string{"d1", "d2"}, 0, 0.0298, 0.596, -1,
			"-2.98% of -5% measured ((1-0.02)×(1-0.01)−1 from 2 validated) = 59.6% of the target: the horizon 2026-09-30 has passed"},
		// Reached: 1.12 − 1 = 0.12 ≥ 0.10.
		{"reached", Objective{Key: "o", Metric: "m", Target: Target{Direction: experiment.Increase, Value: 0.10}, Horizon: horizon},
			[]Item{verdict("r", "m", Validated, before, e(0.12), false)}, []string{"r"}, 0, 0.12, 1.2, 91,
			"+12% of +10% measured ((1+0.12)−1 from 1 validated) = 120% of the target: reached"},
		// The share is written as precisely as the effect it divides
		// (three significant digits): the demo's +21.895 % read "+21.9 %
		// of +10 % = 218.95 %", which nobody computes from the figures
		// shown.
		{"share as precise as the effect", Objective{Key: "o", Metric: "m", Target: Target{Direction: experiment.Increase, Value: 0.10}, Horizon: horizon},
			[]Item{verdict("r", "m", Validated, before, e(0.21895), false)}, []string{"r"}, 0, 0.21895, 2.1895, 91,
			"+21.9% of +10% measured ((1+0.219)−1 from 1 validated) = 219% of the target: reached"},
		{"a large share", Objective{Key: "o", Metric: "m", Target: Target{Direction: experiment.Increase, Value: 0.01}, Horizon: horizon},
			[]Item{verdict("r", "m", Validated, before, e(2.5), false)}, []string{"r"}, 0, 2.5, 250, 91,
			"+250% of +1% measured ((1+2.5)−1 from 1 validated) = 25000% of the target: reached"},
		{"a small share", Objective{Key: "o", Metric: "m", Target: Target{Direction: experiment.Increase, Value: 0.10}, Horizon: horizon},
			[]Item{verdict("r", "m", Validated, before, e(0.000123), false)}, []string{"r"}, 0, 0.000123, 0.00123, 91,
			"+0.0123% of +10% measured ((1+0.000123)−1 from 1 validated) = 0.123% of the target, 91 days left to the horizon 2026-12-31"},
		{"no verdicts", Objective{Key: "o", Metric: "m", Target: Target{Direction: experiment.Increase, Value: 0.10}, Horizon: horizon},
			nil, []string{}, 0, 0, 0, 91, "no validated effect yet toward +10%, 91 days left to the horizon 2026-12-31"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ObjectiveProgress(&tc.o, tc.items, now)
			if !slices.Equal(p.Counted, tc.counted) || len(p.Uncounted) != tc.uncounted {
				t.Errorf("counted %v, uncounted %v; want %v and %d", p.Counted, p.Uncounted, tc.counted, tc.uncounted)
			}
			if !near(p.Measured, tc.measured) || !near(p.Share, tc.share) || !near(p.DaysLeft, tc.daysLeft) {
				t.Errorf("measured %v share %v days left %v; want %v %v %v", p.Measured, p.Share, p.DaysLeft, tc.measured, tc.share, tc.daysLeft)
			}
			if p.Summary != tc.summary {
				t.Errorf("summary\n got %s\nwant %s", p.Summary, tc.summary)
			}
		})
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// TestObjectiveProgressDaysLeft: the summary counts whole days left (the
// demo once said "206.52 days left"), and says so when less than one is.
func TestObjectiveProgressDaysLeft(t *testing.T) {
	horizon, _ := ParseDate("2026-12-31")
	o := Objective{Key: "o", Metric: "m", Target: Target{Direction: experiment.Increase, Value: 0.10}, Horizon: horizon}
	for _, tc := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 10, 2, 11, 30, 0, 0, time.UTC), "no validated effect yet toward +10%, 90 days left to the horizon 2026-12-31"},
		{time.Date(2026, 12, 30, 18, 0, 0, 0, time.UTC), "no validated effect yet toward +10%, 1 day left to the horizon 2026-12-31"},
		{time.Date(2026, 12, 31, 18, 0, 0, 0, time.UTC), "no validated effect yet toward +10%, less than a day left to the horizon 2026-12-31"},
	} {
		if p := ObjectiveProgress(&o, nil, tc.now); p.Summary != tc.want {
			t.Errorf("at %s:\n got %s\nwant %s", tc.now, p.Summary, tc.want)
		}
	}
}

// TestProgressMeasuredElsewhere: a feature stating the objective's metric
// whose verdict measured another metric, or other units, does not count
// toward the objective: the verdict says what it measured.
func TestProgressMeasuredElsewhere(t *testing.T) {
	o := Objective{Key: "o", Metric: "m", Target: Target{Direction: experiment.Increase, Value: 0.10}}
	item := func(key, metric string, absolute bool) Item {
		x := 0.05
		f := &Feature{Key: key, Objective: "o", Hypothesis: Hypothesis{Change: key, Metric: "m"}}
		v := &Event{Kind: VerdictRecorded, Stage: Validated, At: time.Now(), Effect: &x, EffectMetric: metric, EffectAbsolute: absolute}
		return Item{Feature: f, Lifecycle: &Lifecycle{Stage: Validated, Verdict: v}}
	}
	p := ObjectiveProgress(&o, []Item{item("same", "m", false), item("old", "", false), item("other", "signups", false), item("units", "m", true)}, time.Now())
	if want := []string{"old", "same"}; !slices.Equal(p.Counted, want) {
		t.Errorf("counted %v, want %v (uncounted %v)", p.Counted, want, p.Uncounted)
	}
	want := []string{"other: measured on signups, not m", "units: measured in other units (relative vs absolute)"}
	if !slices.Equal(p.Uncounted, want) {
		t.Errorf("uncounted %q, want %q", p.Uncounted, want)
	}
}

// TestObjectiveProgressSampleRatioMismatch: a validated feature whose
// experiment now shows a sample ratio mismatch (Item.SampleRatioMismatch,
// which next knows) does not count toward the objective, as it counts in
// no record of bets: none of its numbers can be trusted.
func TestObjectiveProgressSampleRatioMismatch(t *testing.T) {
	now := time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)
	e := 0.05
	item := func(key string, mismatch bool) Item {
		f := &Feature{Key: key, Objective: "o", Hypothesis: Hypothesis{Change: key, Metric: "m"}}
		l := &Lifecycle{Stage: Validated, Verdict: &Event{Kind: VerdictRecorded, Stage: Validated, At: now.AddDate(0, 0, -5), Effect: &e}}
		return Item{Feature: f, Lifecycle: l, SampleRatioMismatch: mismatch}
	}
	o := Objective{Key: "o", Metric: "m", Target: Target{Direction: experiment.Increase, Value: 0.10}}
	p := ObjectiveProgress(&o, []Item{item("ok", false), item("off", true)}, now)
	if !slices.Equal(p.Counted, []string{"ok"}) || len(p.Uncounted) != 1 || p.Uncounted[0] != "off: its experiment now shows a sample ratio mismatch" {
		t.Errorf("counted %v, uncounted %q; want ok counted, off not (sample ratio mismatch)", p.Counted, p.Uncounted)
	}
}
