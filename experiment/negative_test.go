package experiment

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/valuelooptest"
)

// negativeProfit returns a profit metric and the aggregates of a 50/50
// experiment in which control loses about 10 per user and treatment about
// 5: an increase.
func negativeProfit(t *testing.T) ([]metric.Metric, []metric.Aggregate) {
	t.Helper()
	ms := []metric.Metric{{Key: "profit", Kind: metric.Sum, Event: "order"}}
	if err := ms[0].Normalize(); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 3))
	var events []ingest.Event
	const base = int64(1_767_225_600_000)
	for i := range 4000 {
		v := "control"
		mean := -10.0
		if i%2 == 1 {
			v, mean = "treatment", -5
		}
		key := fmt.Sprint("u", i)
		t0 := base + int64(i)*1000
		events = append(events,
			ingest.Event{ID: key + "x", Type: ingest.Exposure, Flag: "onboarding", Variant: v, TargetingKey: key, Time: t0, TimeSet: true},
			ingest.Event{ID: key + "o", Type: ingest.Tracking, Name: "order", TargetingKey: key, Time: t0 + 1, TimeSet: true,
				Value: int64((mean + 4*r.NormFloat64()) * ingest.Scale), HasValue: true})
	}
	return ms, recompute(t, ms, events)
}

// TestNegativeControlMeanVerdict: profit rising from −10 to −5 is +50%, and
// a hypothesis "increase profit by 5%" is validated, not judged the wrong
// way.
func TestNegativeControlMeanVerdict(t *testing.T) {
	ms, aggs := negativeProfit(t)
	h := NewHypothesis()
	h.PrimaryMetric, h.Direction, h.MinimumEffect, h.Power = "profit", Increase, 0.05, 0.8
	res, err := Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: aggs, Settings: DefaultSettings(), Hypothesis: h})
	if err != nil {
		t.Fatal(err)
	}
	rel := res.Metrics[0].Variants[1].Lift.Relative
	if rel == nil || !(rel.Estimate > 0.4 && rel.Estimate < 0.6) {
		t.Fatalf("relative lift = %+v, want about +50%%", rel)
	}
	if v := res.Verdict; v.Decision != Validated || !strings.Contains(v.Reason, "profit moved +5") {
		t.Errorf("verdict = %s (%s): %s; want validated with profit moved +5x%%", v.Decision, v.Code, v.Reason)
	}
}

// TestResultsAfterRollout: a split moved to 100% leaves one weighted
// variant. The error says why the rollout's data cannot be analysed as one
// experiment yet, rather than only that the split gives one variant.
func TestResultsAfterRollout(t *testing.T) {
	ms := testMetrics()
	aggs := simulate(t, 5, "onboarding", ms, []arm{{name: "control", users: 300, signup: 0.3}, {name: "treatment", users: 300, signup: 0.3}})
	def := testFlag()
	def.Targeting = []byte(`{"fractional":[["control",0],["treatment",100]]}`)
	_, err := Analyze(Input{Flag: "onboarding", Definition: def, Metrics: ms, Aggregates: aggs, Settings: DefaultSettings()})
	valuelooptest.WantFieldError(t, err, "settings.weights")
	if err == nil || !strings.Contains(err.Error(), "exposed to control under an earlier split") || !strings.Contains(err.Error(), "periods of first exposure are not known") {
		t.Errorf("error = %v, want it to explain the earlier split", err)
	}
}
