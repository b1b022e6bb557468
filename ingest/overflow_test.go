package ingest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
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

// TestNarrowStatesRead: the states stored before sums took two words
// (format 2, every sum one int64) load as they were, so a store written by
// an older version needs no rebuild.
func TestNarrowStatesRead(t *testing.T) {
	metrics := testMetrics()
	for _, dims := range [][]metric.Dimension{nil, testDims} {
		r := rand.New(rand.NewPCG(3, uint64(len(dims))))
		e := newEngine(metrics, dims...)
		e.persistent = true
		events := randomEvents(r, 2000)
		if err := e.apply(events, func(int64, func([]byte) error) error { return nil }); err != nil {
			t.Fatal(err)
		}
		e.finish()
		for key, u := range e.users {
			want := e.encodeUser(nil, u)
			f := newEngine(metrics, dims...)
			if err := f.load(key, narrowState(e, u)); err != nil {
				t.Fatalf("%d dimensions: format 2 state of %q: %v", len(dims), key, err)
			}
			if got := f.encodeUser(nil, f.users[key]); !bytes.Equal(got, want) {
				t.Fatalf("%d dimensions: user %q read from format 2 is\n%x\nwant\n%x", len(dims), key, got, want)
			}
		}
	}
}

// narrowState is encodeUser as it was in format 2, for users whose sums fit
// an int64.
func narrowState(e *engine, u *user) []byte {
	buf := []byte{stateFormatNarrow}
	buf = binary.AppendUvarint(buf, uint64(len(e.base)))
	buf = binary.AppendUvarint(buf, uint64(e.nAcc))
	for _, t := range u.totals {
		buf = binary.AppendUvarint(buf, uint64(t.cnt))
		if t.cnt != 0 {
			buf = binary.AppendVarint(buf, t.sum.clamp())
			buf = binary.AppendVarint(buf, t.maxT)
		}
	}
	buf = binary.AppendUvarint(buf, uint64(len(u.units)))
	idx := make([]int, len(u.units))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(u.units[a].flag, u.units[b].flag) })
	maskLen := (e.nAcc + 7) / 8
	for _, i := range idx {
		un := &u.units[i]
		buf = appendStr(buf, un.flag)
		buf = appendStr(buf, un.variant)
		buf = binary.AppendVarint(buf, un.t0)
		buf = binary.AppendVarint(buf, un.period)
		buf = append(buf, un.dv[:len(e.dims)]...)
		if un.excluded {
			buf = append(buf, 1)
			continue
		}
		buf = append(buf, 0)
		at := len(buf)
		buf = append(buf, make([]byte, maskLen)...)
		for j, a := range un.post {
			if a.cnt != 0 || !a.sum.isZero() {
				buf[at+j/8] |= 1 << (j % 8)
				buf = binary.AppendUvarint(buf, uint64(a.cnt))
				buf = binary.AppendVarint(buf, a.sum.clamp())
			}
		}
		for _, h := range un.hist {
			enc := h.Encode(nil)
			buf = append(binary.AppendUvarint(buf, uint64(len(enc))), enc...)
		}
	}
	return buf
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
