package rollout

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/valueloop/valueloop/metric"
)

// conversionCells are the cells of a conversion metric: users and
// conversions per variant.
func conversionCells(key string, users, conv map[string]int64) []metric.Aggregate {
	var out []metric.Aggregate
	for v, n := range users {
		var s metric.Sums
		for i := range n {
			x := int64(0)
			if i < conv[v] {
				x = metric.Scale
			}
			s.Apply(x, 0, 0, 1)
		}
		out = append(out, metric.Aggregate{Flag: "f", Variant: v, Sums: metric.Sums{N: n}},
			metric.Aggregate{Flag: "f", Variant: v, Metric: key, Sums: s})
	}
	return out
}

// TestStepSizingMemo: the engine works out a guardrail's needed users once
// per step and set of figures, not on every tick.
func TestStepSizingMemo(t *testing.T) {
	m := metric.Metric{Key: "error-rate", Kind: metric.Conversion, Event: "error", Direction: metric.LowerIsBetter}
	if err := m.Normalize(); err != nil {
		t.Fatal(err)
	}
	p := &Plan{Flag: "f", Variant: "new", Baseline: "old", Alpha: 0.05, SequentialTuning: 10000, MinSample: 10,
		Guardrails: []Guardrail{{Metric: "error-rate", Direction: metric.LowerIsBetter, Tolerance: 0.3}}}
	aggs := conversionCells("error-rate", map[string]int64{"old": 800, "new": 200}, map[string]int64{"old": 80, "new": 20})
	want := Guardrails(p, 20, []metric.Metric{m}, aggs)
	if want[0].NeededUsers == 0 {
		t.Fatalf("no needed users in %+v", want[0])
	}
	sz := &stepSizing{}
	for range 3 {
		got := guardrails(p, 20, []metric.Metric{m}, aggs, sz)
		if got[0].NeededUsers != want[0].NeededUsers {
			t.Fatalf("needed %d with the memo, %d without", got[0].NeededUsers, want[0].NeededUsers)
		}
	}
	if sz.computed != 1 {
		t.Errorf("worked out %d times over 3 ticks on the same figures, want 1", sz.computed)
	}
	more := conversionCells("error-rate", map[string]int64{"old": 900, "new": 260}, map[string]int64{"old": 90, "new": 26})
	got := guardrails(p, 20, []metric.Metric{m}, more, sz)
	if sz.computed != 2 || got[0].NeededUsers != Guardrails(p, 20, []metric.Metric{m}, more)[0].NeededUsers {
		t.Errorf("new figures: computed %d times, needed %d; want worked out again", sz.computed, got[0].NeededUsers)
	}
}

// latencyCells are the cells of a quantile metric of latencies in
// milliseconds, μ per variant. Over users, each user's latency is
// exp(N(μ, 0.5²)); over events, each user sends 1 to 19 requests of
// latency exp(μ + u + ε), u the user's own (their device, their network)
// and ε the request's, both N(0, 0.5²).
func latencyCells(m metric.Metric, users map[string]int, mu map[string]float64, seed uint64) []metric.Aggregate {
	r := rand.New(rand.NewPCG(seed, 1))
	var out []metric.Aggregate
	for _, v := range []string{"old", "new"} {
		var s metric.Sums
		var k metric.Sketch
		var ek metric.EventSketch
		for range users[v] {
			if !m.PerEvent() {
				x := int64(math.Exp(mu[v]+0.5*r.NormFloat64()) * metric.Scale)
				s.Apply(x, 0, 0, 1)
				k.Add(x, 1)
				continue
			}
			n := 1 + r.IntN(19)
			u := 0.5 * r.NormFloat64()
			var h metric.UserHist
			for range n {
				h.Add(int64(math.Exp(mu[v]+u+0.5*r.NormFloat64())*metric.Scale), 1)
			}
			s.Apply(int64(n)*metric.Scale, 0, 0, 1)
			ek.AddUser(h, 1)
		}
		if m.PerEvent() {
			s.SetEventSketch(ek)
		} else {
			s.SetSketch(k)
		}
		out = append(out, metric.Aggregate{Flag: "f", Variant: v, Sums: metric.Sums{N: int64(users[v])}},
			metric.Aggregate{Flag: "f", Variant: v, Metric: m.Key, Sums: s})
	}
	return out
}

// TestLatencyP99Guardrail: a quantile metric guards a rollout: over users'
// latencies, p99 50% worse breaches a 10% tolerance; over every request
// (clustered by user), p99 30% worse does; unchanged, no breach.
func TestLatencyP99Guardrail(t *testing.T) {
	for _, c := range []struct {
		over          string
		users         int
		worse, lo, hi float64
	}{
		{metric.OverUser, 8000, 1.5, 0.35, 0.65},
		{metric.OverEvent, 4000, 1.3, 0.2, 0.4},
	} {
		t.Run(c.over, func(t *testing.T) {
			m := metric.Metric{Key: "latency-p99", Kind: metric.Quantile, Over: c.over, Event: "load", Direction: metric.LowerIsBetter, Quantile: 0.99}
			if err := m.Normalize(); err != nil {
				t.Fatal(err)
			}
			p := &Plan{Flag: "f", Variant: "new", Baseline: "old", Alpha: 0.05, SequentialTuning: 10000, MinSample: 100,
				Guardrails: []Guardrail{{Metric: m.Key, Direction: metric.LowerIsBetter, Tolerance: 0.1}}}
			users := map[string]int{"old": c.users, "new": c.users}
			worse := Guardrails(p, 50, []metric.Metric{m}, latencyCells(m, users, map[string]float64{"old": 4, "new": 4 + math.Log(c.worse)}, 1))[0]
			if worse.Status != GuardrailBreached || !(worse.Change > c.lo && worse.Change < c.hi) {
				t.Errorf("p99 %v× worse: %s, change %v %v; want breached", c.worse, worse.Status, worse.Change, worse.Interval)
			}
			same := Guardrails(p, 50, []metric.Metric{m}, latencyCells(m, users, map[string]float64{"old": 4, "new": 4}, 2))[0]
			if same.Status == GuardrailBreached || same.Status == GuardrailNotEnoughData {
				t.Errorf("p99 unchanged: %s (%s), change %v %v; want no breach", same.Status, same.Reason, same.Change, same.Interval)
			}
		})
	}
}
