package ingest

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/valueloop/valueloop/metric"
)

// TestLargeSumsDoNotWrap: a value may be as large as ±MaxValue, so ten of
// one user's pass the int64 of millionths a user's sum was kept in. The
// sum wrapped round to the other sign (a revenue of −8.4e12 from ten sales
// of 1e12), and no cap caught it: one sender could turn a variant's mean
// around. A user's sums are exact, and a per-user value beyond an int64 of
// millionths counts as the nearest one; the mean of such a user's values is
// exact. The incremental pipeline and the recomputation agree, in any
// order.
func TestLargeSumsDoNotWrap(t *testing.T) {
	ms := []metric.Metric{
		{Key: "revenue", Kind: metric.Sum, Event: "purchase"},
		{Key: "capped", Kind: metric.Sum, Event: "purchase", Cap: new(float64)},
		{Key: "avg", Kind: metric.Mean, Event: "purchase"},
		{Key: "per-order", Kind: metric.Ratio, Event: "purchase", Denominator: &metric.Part{Event: "purchase"}},
	}
	*ms[1].Cap = 1e12
	for i := range ms {
		if err := ms[i].Normalize(); err != nil {
			t.Fatal(err)
		}
	}
	const t0 = 1_780_000_000_000
	big := int64(MaxValue * Scale)
	events := []Event{
		{Type: Exposure, Flag: "f", Variant: "up", TargetingKey: "u", Time: t0, TimeSet: true},
		{Type: Exposure, Flag: "f", Variant: "down", TargetingKey: "d", Time: t0, TimeSet: true},
	}
	for i := range 10 {
		events = append(events,
			Event{Type: Tracking, Name: "purchase", TargetingKey: "u", Time: t0 + 1 + int64(i), TimeSet: true, Value: big, HasValue: true},
			Event{Type: Tracking, Name: "purchase", TargetingKey: "d", Time: t0 + 1 + int64(i), TimeSet: true, Value: -big, HasValue: true})
	}
	want := map[string]map[string]float64{ // variant → metric → mean of the per-user values, in units
		"up":   {"revenue": math.MaxInt64 / Scale, "capped": 1e12, "avg": 1e12},
		"down": {"revenue": math.MinInt64 / Scale, "capped": math.MinInt64 / Scale, "avg": -1e12},
	}
	check := func(name string, aggs []metric.Aggregate) {
		t.Helper()
		for _, a := range aggs {
			w, ok := want[a.Variant][a.Metric]
			if !ok {
				if a.Metric == "per-order" && a.Sums.N == 1 {
					if s := a.Sums.Summary(); (a.Variant == "up") != (s.Mean > 0) {
						t.Errorf("%s: %s of %s: numerator mean %g, of the wrong sign", name, a.Metric, a.Variant, s.Mean)
					}
				}
				continue
			}
			if got := a.Sums.Summary().Mean; a.Sums.N != 1 || math.Abs(got-w) > 1e-3*math.Abs(w) {
				t.Errorf("%s: %s of %s: n %d, mean %g; want 1 user, %g", name, a.Metric, a.Variant, a.Sums.N, got, w)
			}
		}
	}
	all, _, err := Recompute(ms, ScanEvents(events))
	if err != nil {
		t.Fatal(err)
	}
	check("recomputation", all)

	// The same events incrementally, the sales before the exposures.
	ss := newStateStore()
	ss.metrics["prod"] = ms
	p := NewPipeline(ss, nil)
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Ingest(context.Background(), "prod", events[2:]); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Ingest(context.Background(), "prod", events[:2]); err != nil {
		t.Fatal(err)
	}
	got := ss.stored("prod")
	check("incremental", got)
	if d := diffAggregates(got, all); d != "" {
		t.Errorf("incremental differs from the recomputation:\n%s", d)
	}
}

func TestSum128(t *testing.T) {
	big := int64(MaxValue * Scale)
	sumOf := func(vs ...int64) sum128 {
		var s sum128
		for _, v := range vs {
			s.add(v)
		}
		return s
	}
	rep := func(v int64, n int) []int64 { return slices.Repeat([]int64{v}, n) }
	tests := []struct {
		name        string
		s           sum128
		n           int64
		clamp, mean int64
	}{
		{"small", sumOf(5, -2, 4), 3, 7, 2},
		{"half rounds away from zero", sumOf(-3, -2), 2, -5, -3},
		{"ten of the largest", sumOf(rep(big, 10)...), 10, math.MaxInt64, big},
		{"ten of the smallest", sumOf(rep(-big, 10)...), 10, math.MinInt64, -big},
		{"past and back", sumOf(append(rep(big, 20), rep(-big, 19)...)...), 39, big, (big + 19) / 39},
		{"negative, wide", sumOf(append(rep(-big, 20), -1)...), 21, math.MinInt64, -952380952380952381},
		{"half of a wide negative", sumOf(append(rep(-big, 20), -10)...), 20, math.MinInt64, -big - 1},
		{"mean past an int64", sumOf(rep(-big, 20)...), 2, math.MinInt64, math.MinInt64},
		{"minus", sumOf(rep(big, 30)...).minus(sumOf(rep(big, 29)...)), 1, big, big},
	}
	for _, tt := range tests {
		if got := tt.s.clamp(); got != tt.clamp {
			t.Errorf("%s: clamp %d, want %d", tt.name, got, tt.clamp)
		}
		if got := tt.s.divRound(tt.n); got != tt.mean {
			t.Errorf("%s: divRound(%d) %d, want %d", tt.name, tt.n, got, tt.mean)
		}
	}
}
