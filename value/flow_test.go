package value

import (
	"reflect"
	"testing"
	"time"
)

func days2(d float64) Seconds { return Seconds(time.Duration(d * 24 * float64(time.Hour))) }

// TestFlow is computed by hand; the window is day 0 (Monday 2026-11-02) to
// day 28 (Monday 2026-11-30): five weeks.
func TestFlow(t *testing.T) {
	items := []Item{
		// f1 goes round the loop: idea 0→1, building 1→3, releasing 3→5,
		// measuring 5→9, validated 9→12, done.
		feature("f1", "o", nil, 0, []FlagLink{prod("f1")}, ev("f1c", CommitPushed, day(1)), ev("f1s", RolloutStarted, day(3)),
			ev("f1f", RolloutCompleted, day(5)), verdict("f1v", Validated, day(9), 0.1), removed("f1r", prod("f1"), day(12))),
		// f2: idea 0→2, building 2→4, releasing 4→8, measuring 8→15,
		// invalidated since 15 (13 days: not stuck, the limit is 14).
		feature("f2", "o", nil, 0, nil, ev("f2c", CommitPushed, day(2)), ev("f2s", RolloutStarted, day(4)),
			ev("f2f", RolloutCompleted, day(8)), verdict("f2v", Invalidated, day(15), 0)),
		// f3: idea 0→4, building 4→6, measuring since 6 (22 days).
		feature("f3", "o", nil, 0, nil, ev("f3c", CommitPushed, day(4)), ev("f3x", ExperimentStarted, day(6))),
		// f4: idea 0→5, building since 5 (23 days).
		feature("f4", "o", nil, 0, nil, ev("f4c", CommitPushed, day(5))),
		// f5: created day −40, building since day −35: 63 days, stuck (> 30);
		// its idea stage ended before the window.
		{Feature: &Feature{Key: "f5", Objective: "o"}, Lifecycle: ptr(Derive([]Event{ev("f5", Created, day(-40)), ev("f5c", CommitPushed, day(-35))}, nil))},
		// f6: an idea for 28 days; ideas are never stuck.
		feature("f6", "o", nil, 0, nil),
		// f7: created day 1 (after the idea of the others), ready since 2.
		{Feature: &Feature{Key: "f7", Objective: "o"}, Lifecycle: ptr(Derive([]Event{ev("f7", Created, day(1)), moved("f7r", Ready, day(2))}, nil))},
		// f8: idea 0→1, measuring 1→3, validated since 3: 25 days without
		// cleanup, stuck (> 14).
		feature("f8", "o", nil, 0, nil, ev("f8x", ExperimentStarted, day(1)), verdict("f8v", Validated, day(3), 0.1)),
		// f9: idea 0→20, releasing since 20.
		feature("f9", "o", nil, 0, nil, ev("f9s", RolloutStarted, day(20))),
	}
	f := ComputeFlow(items, FlowOptions{Now: day(28), Since: day(0)})
	type row struct {
		wip, stuck int
		oldest     []Age
		flow       Summary
	}
	want := map[Stage]row{
		// idea flow times, days: f1 1, f2 2, f3 4, f4 5, f7 1, f8 1, f9 20 →
		// sorted 1 1 1 2 4 5 20; median h = 3 → 2; p85 h = 5.1 → 5 + 0.1×15 = 6.5.
		Idea: {1, 0, []Age{{"f6", day(0), days2(28), false}}, Summary{7, days2(2), days2(6.5)}},
		// ready: f7 still there; none left it.
		Ready: {1, 0, []Age{{"f7", day(2), days2(26), false}}, Summary{}},
		// building flow: f1 2, f2 2, f3 2.
		Building: {2, 1, []Age{{"f5", day(-35), days2(63), true}, {"f4", day(5), days2(23), false}}, Summary{3, days2(2), days2(2)}},
		// releasing flow: f1 2, f2 4 → median h = 0.5 → 3; p85 h = 0.85 → 2 + 0.85×2 = 3.7.
		Releasing: {1, 0, []Age{{"f9", day(20), days2(8), false}}, Summary{2, days2(3), days2(3.7)}},
		// measuring flow: f8 2, f1 4, f2 7 → median 4; p85 h = 1.7 → 4 + 0.7×3 = 6.1.
		Measuring:   {1, 0, []Age{{"f3", day(6), days2(22), false}}, Summary{3, days2(4), days2(6.1)}},
		Validated:   {1, 1, []Age{{"f8", day(3), days2(25), true}}, Summary{1, days2(3), days2(3)}},
		Invalidated: {1, 0, []Age{{"f2", day(15), days2(13), false}}, Summary{}},
		Done:        {1, 0, []Age{{"f1", day(12), days2(16), false}}, Summary{}},
		Abandoned:   {0, 0, []Age{}, Summary{}},
	}
	for _, s := range f.Stages {
		w := want[s.Stage]
		if s.WIP != w.wip || s.Stuck != w.stuck {
			t.Errorf("%s: got wip %d stuck %d, want %d and %d", s.Stage, s.WIP, s.Stuck, w.wip, w.stuck)
		}
		if !reflect.DeepEqual(s.Oldest, w.oldest) {
			t.Errorf("%s oldest: got %+v, want %+v", s.Stage, s.Oldest, w.oldest)
		}
		if !closeSummary(s.FlowTime, w.flow) {
			t.Errorf("%s flow time: got %+v, want %+v", s.Stage, s.FlowTime, w.flow)
		}
	}
	// Throughput: f8 validated day 3 (week of 11-02), f1 validated day 9
	// (11-09), f2 invalidated day 15 (11-16).
	wantWeeks := []struct {
		start string
		v, i  int
	}{{"2026-11-02", 1, 0}, {"2026-11-09", 1, 0}, {"2026-11-16", 0, 1}, {"2026-11-23", 0, 0}, {"2026-11-30", 0, 0}}
	if len(f.Throughput) != len(wantWeeks) {
		t.Fatalf("weeks: got %d, want %d", len(f.Throughput), len(wantWeeks))
	}
	for i, w := range wantWeeks {
		g := f.Throughput[i]
		if g.Start.String() != w.start || g.Validated != w.v || g.Invalidated != w.i {
			t.Errorf("week %d: got %s %d/%d, want %s %d/%d", i, g.Start, g.Validated, g.Invalidated, w.start, w.v, w.i)
		}
	}
	// Shipped (entered measuring or beyond in the window): f1, f2, f3, f8;
	// validated f1, f8; invalidated f2: share 2/4.
	if f.Shipped != 4 || f.Validated != 2 || f.Invalidated != 1 || f.ValidatedShare == nil || *f.ValidatedShare != 0.5 {
		t.Errorf("shipped %d validated %d invalidated %d share %v; want 4, 2, 1, 0.5", f.Shipped, f.Validated, f.Invalidated, f.ValidatedShare)
	}
}

func TestFlowWindow(t *testing.T) {
	items := []Item{
		feature("old", "o", nil, 0, nil, ev("c", CommitPushed, day(1)), ev("x", ExperimentStarted, day(2)), verdict("v", Validated, day(3), 0.1)),
	}
	// A window after everything happened: nothing shipped, no flow time, but
	// the work in progress is still counted.
	f := ComputeFlow(items, FlowOptions{Now: day(60), Since: day(30)})
	if f.Shipped != 0 || f.ValidatedShare != nil {
		t.Errorf("shipped %d share %v, want 0 and none", f.Shipped, f.ValidatedShare)
	}
	for _, s := range f.Stages {
		if s.FlowTime.Count != 0 {
			t.Errorf("%s: %d flow times counted outside the window", s.Stage, s.FlowTime.Count)
		}
		if s.Stage == Validated && s.WIP != 1 {
			t.Errorf("validated wip: got %d, want 1", s.WIP)
		}
	}
	for _, w := range f.Throughput {
		if w.Total() != 0 {
			t.Errorf("week %s: %d decided outside the window", w.Start, w.Total())
		}
	}
}

func TestQuantile(t *testing.T) {
	steps := func(n int) []time.Duration {
		var out []time.Duration
		for i := range n {
			out = append(out, time.Duration(i*100))
		}
		return out
	}
	for _, tc := range []struct {
		xs   []time.Duration
		p    float64
		want time.Duration
	}{
		{[]time.Duration{5}, 0.85, 5},
		{[]time.Duration{10, 20, 30, 40}, 0.5, 25}, // h = 1.5 → 20 + 0.5×10
		{steps(21), 0.85, 1700},                    // h = 17: a rank exactly
		{steps(11), 0.85, 850},                     // h = 8.5 → 800 + 0.5×100
		{steps(3), 0.85, 170},                      // h = 1.7 → 100 + 0.7×100
	} {
		if got := quantile(tc.xs, tc.p); got != tc.want {
			t.Errorf("quantile(%v, %v): got %v, want %v", tc.xs, tc.p, got, tc.want)
		}
	}
}

func closeSummary(a, b Summary) bool {
	near := func(x, y Seconds) bool {
		d := x - y
		return d < Seconds(time.Millisecond) && d > -Seconds(time.Millisecond)
	}
	return a.Count == b.Count && near(a.Median, b.Median) && near(a.P85, b.P85)
}

func ptr[T any](v T) *T { return &v }

// TestFlowSampleRatioMismatch: a verdict whose experiment now shows a
// sample ratio mismatch counts in flow as in next's record of bets and the
// objective's progress: neither validated nor invalidated, in the weekly
// throughput or among the shipped (where its feature is undecided: nothing
// trustworthy was learnt), and the flow says how many it left out.
func TestFlowSampleRatioMismatch(t *testing.T) {
	items := []Item{
		// a: shipped day 4, validated day 5: counts.
		feature("a", "o", nil, 0, nil, ev("ax", ExperimentStarted, day(4)), verdict("av", Validated, day(5), 0.1)),
		// b: shipped day 4, validated day 6, mismatched: left out.
		feature("b", "o", nil, 0, nil, ev("bx", ExperimentStarted, day(4)), verdict("bv", Validated, day(6), 0.1)),
		// c: shipped day 1, before the window, invalidated day 7,
		// mismatched: left out of the throughput, not shipped in the window.
		feature("c", "o", nil, 0, nil, ev("cx", ExperimentStarted, day(1)), verdict("cv", Invalidated, day(7), 0)),
	}
	items[1].SampleRatioMismatch, items[2].SampleRatioMismatch = true, true
	// The window: Thursday 11-05 to 11-15, two weeks.
	f := ComputeFlow(items, FlowOptions{Now: day(13), Since: day(3)})
	validated, invalidated := 0, 0
	for _, w := range f.Throughput {
		validated, invalidated = validated+w.Validated, invalidated+w.Invalidated
	}
	if validated != 1 || invalidated != 0 {
		t.Errorf("throughput: %d validated, %d invalidated; want 1 and 0", validated, invalidated)
	}
	if f.Shipped != 2 || f.Validated != 1 || f.Invalidated != 0 || f.Undecided() != 1 || f.ValidatedShare == nil || *f.ValidatedShare != 0.5 {
		t.Errorf("shipped %d: %d validated, %d invalidated, %d undecided, share %v; want 2: 1, 0, 1, 0.5", f.Shipped, f.Validated, f.Invalidated, f.Undecided(), f.ValidatedShare)
	}
	if f.Mismatched != 2 || f.ShippedMismatched != 1 {
		t.Errorf("mismatched %d, of the shipped %d; want 2 and 1", f.Mismatched, f.ShippedMismatched)
	}
	if got, want := f.Mismatches(), "2 verdicts not counted: sample ratio mismatch"; got != want {
		t.Errorf("Mismatches() = %q, want %q", got, want)
	}
}
