package experiment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/ingest"

	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// TestQuantileMetricResults: a p90 of the users' order values through the
// real aggregation: analysed as a quantile, with a lift when the treatment
// spends more, none in an A/A.
func TestQuantileMetricResults(t *testing.T) {
	ms := testMetrics()
	p90 := metric.Metric{Key: "order-value-p90", Kind: metric.Quantile, Event: "purchase", Quantile: 0.9}
	if err := p90.Normalize(); err != nil {
		t.Fatal(err)
	}
	ms = append(ms, p90)
	aggs := simulate(t, 21, "onboarding", ms, []arm{{name: "control", users: 3000, signup: 0.6, spend: 0}, {name: "treatment", users: 3000, signup: 0.6, spend: 8}})
	res, err := Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: aggs, Settings: DefaultSettings(), Only: []string{p90.Key}})
	if err != nil {
		t.Fatal(err)
	}
	mr := res.Metrics[0]
	if mr.Analysis != stats.Quantile || mr.CUPED {
		t.Errorf("analysis %s, CUPED %v; want a quantile without CUPED", mr.Analysis, mr.CUPED)
	}
	c, tr := mr.Variants[0], mr.Variants[1]
	// The users' mean order value after exposure is taste (20 ± 10) plus
	// spend: its p90 is about 20 + 1.28·10 ≈ 33 for control.
	if c.Mean == nil || *c.Mean < 28 || *c.Mean > 38 || tr.Lift == nil {
		t.Fatalf("control p90 %v, treatment %+v", c.Mean, tr)
	}
	if d := tr.Lift.Absolute; d.Interval.Lower <= 0 || d.Estimate < 4 || d.Estimate > 12 {
		t.Errorf("p90 difference %v %v, want about +8", d.Estimate, d.Interval)
	}
	aa := simulate(t, 22, "onboarding", ms, []arm{{name: "control", users: 3000, signup: 0.6}, {name: "treatment", users: 3000, signup: 0.6}})
	res, err = Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: aa, Settings: DefaultSettings(), Only: []string{p90.Key}})
	if err != nil {
		t.Fatal(err)
	}
	if l := res.Metrics[0].Variants[1].Lift; l == nil || !l.Absolute.Sequential.Contains(0) {
		t.Errorf("A/A p90 lift %+v, want an interval around 0", l)
	}
}

// TestEventQuantileMetricResults: a p95 of every request's latency through
// the real aggregation (ingest.Recompute): each user's requests share the
// user's speed; the quantile over events is the events' p95 (within the
// sketch's accuracy), counted over users, and a 25% slower treatment is
// seen.
func TestEventQuantileMetricResults(t *testing.T) {
	p95 := metric.Metric{Key: "request-p95", Kind: metric.Quantile, Over: metric.OverEvent, Event: "request", Direction: metric.LowerIsBetter, Quantile: 0.95}
	perUser := metric.Metric{Key: "request-p95-users", Kind: metric.Quantile, Event: "request", Direction: metric.LowerIsBetter, Quantile: 0.95}
	ms := []metric.Metric{p95, perUser}
	for i := range ms {
		if err := ms[i].Normalize(); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(41, 2))
	const base = int64(1_767_225_600_000)
	var events []ingest.Event
	all := map[string][]float64{}
	for _, a := range []struct {
		name string
		mu   float64
	}{{"control", 4}, {"treatment", 4 + math.Log(1.25)}} {
		for i := range 1500 {
			key := fmt.Sprintf("%s-%d", a.name, i)
			t0 := base + int64(len(events))*1000
			events = append(events, ingest.Event{ID: key + "-x", Type: ingest.Exposure, Flag: "onboarding", Variant: a.name, TargetingKey: key, Time: t0, TimeSet: true})
			speed := 0.5 * r.NormFloat64()
			for j := range 1 + r.IntN(15) {
				v := math.Round(math.Exp(a.mu+speed+0.4*r.NormFloat64())*1000) / 1000
				all[a.name] = append(all[a.name], v)
				events = append(events, ingest.Event{ID: fmt.Sprint(key, "-r", j), Type: ingest.Tracking, Name: "request", TargetingKey: key,
					Time: t0 + int64(j) + 1, TimeSet: true, Value: int64(v * ingest.Scale), HasValue: true})
			}
		}
	}
	aggs := recompute(t, ms, events)
	res, err := Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: aggs, Settings: DefaultSettings()})
	if err != nil {
		t.Fatal(err)
	}
	var got *MetricResult
	for i := range res.Metrics {
		if res.Metrics[i].Metric == p95.Key {
			got = &res.Metrics[i]
		}
	}
	if got == nil || got.Analysis != stats.Quantile || got.CUPED {
		t.Fatalf("result %+v, want a quantile without CUPED", got)
	}
	c, tr := got.Variants[0], got.Variants[1]
	exact := slices.Sorted(slices.Values(all["control"]))
	want := exact[int(math.Ceil(0.95*float64(len(exact))))-1]
	if c.Mean == nil || math.Abs(*c.Mean-want) > metric.SketchAccuracy*want || c.Users != 1500 {
		t.Fatalf("control p95 %v over %d users, want %v (the events' p95) over 1500", c.Mean, c.Users, want)
	}
	if tr.Lift == nil || tr.Lift.Relative.Interval.Lower <= 0.05 || tr.Lift.Relative.Estimate < 0.15 || tr.Lift.Relative.Estimate > 0.35 {
		t.Errorf("treatment lift %+v, want about +25%%", tr.Lift)
	}
}

// TestQuantileWithoutDataSaysUsers: every arm of a metric without data says
// why in the same word, users, whether the reason is the arm's own or the
// comparison's.
func TestQuantileWithoutDataSaysUsers(t *testing.T) {
	p90 := metric.Metric{Key: "order-value-p90", Kind: metric.Quantile, Event: "purchase", Quantile: 0.9}
	if err := p90.Normalize(); err != nil {
		t.Fatal(err)
	}
	res, err := Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: []metric.Metric{p90}, Settings: DefaultSettings()})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range res.Metrics[0].Variants {
		if v.Status != stats.NotEnoughData || !strings.Contains(v.Reason, "need at least 2 users, have 0") {
			t.Errorf("%s: %s %q, want not enough data: need at least 2 users, have 0", v.Variant, v.Status, v.Reason)
		}
	}
}
