package rollout_test

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/storetest"
)

// TestGuardrailFalseOKRate: when the released variant's error rate is worse
// by exactly the tolerance, the engine's guardrail may call it ok (shown
// non-inferior) in at most alpha of the rollouts. Events go through the
// real aggregation (ingest.Recompute).
func TestGuardrailFalseOKRate(t *testing.T) {
	const runs, users, tol = 400, 3000, 0.2
	m := errorMetric()
	p := goodPlan()
	p.Guardrails = []rollout.Guardrail{{Metric: m.Key, Tolerance: tol}}
	if err := p.Check(checkoutFlag(), []metric.Metric{m}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(8, 8))
	ok, noHarm := 0, 0
	events := make([]ingest.Event, 0, 2*users)
	for run := range runs {
		events = events[:0]
		for i := range users {
			key := strconv.Itoa(run) + "-" + strconv.Itoa(i)
			variant, rate := "classic", 0.10
			if i%2 == 1 {
				variant, rate = "one-page", 0.10*(1+tol) // harm = the tolerance
			}
			events = append(events, ingest.Event{Type: ingest.Exposure, Flag: "checkout", Variant: variant, TargetingKey: key, Time: 1_767_225_600_000, TimeSet: true})
			if r.Float64() < rate {
				events = append(events, ingest.Event{Type: ingest.Tracking, Name: "error", TargetingKey: key, Time: 1_767_225_600_001, TimeSet: true})
			}
		}
		aggs := storetest.RecomputeEvents(t, []metric.Metric{m}, events)
		switch rollout.Guardrails(&p, 50, []metric.Metric{m}, aggs)[0].Status {
		case rollout.GuardrailOK:
			ok++
		case rollout.GuardrailNoHarmDetected:
			noHarm++
		}
	}
	rate := float64(ok) / runs
	t.Logf("harm = tolerance: ok in %d of %d rollouts (%.3f), no harm detected in %d", ok, runs, rate, noHarm)
	if rate > p.Alpha {
		t.Errorf("false ok rate %.3f above alpha %g", rate, p.Alpha)
	}
}
