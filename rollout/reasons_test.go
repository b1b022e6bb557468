package rollout_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/storetest"
)

// fixedData is rollout.Data with figures that do not change.
type fixedData struct {
	metrics []metric.Metric
	aggs    []metric.Aggregate
}

func (d fixedData) Metrics(context.Context, string) ([]metric.Metric, error) { return d.metrics, nil }
func (d fixedData) Aggregates(context.Context, string, string) ([]metric.Aggregate, error) {
	return d.aggs, nil
}
func (d fixedData) DimensionAggregates(context.Context, string, string, string) ([]metric.Aggregate, error) {
	return nil, nil
}

// SplitHistory keeps none: the status shows no StepServed.
func (d fixedData) SplitHistory(context.Context, string, string) ([]experiment.SplitPeriod, error) {
	return nil, nil
}

// TestEngineReasonsFit: the reasons the engine writes itself are held to
// what a person's reason is (valueloop.CheckReason): a rollback on twelve
// breached guardrails named each with its figures, over 1,000 bytes, in
// the rollout, its history and the flag change's audit reason.
func TestEngineReasonsFit(t *testing.T) {
	ctx := context.Background()
	var ms []metric.Metric
	var gs []rollout.Guardrail
	var events []ingest.Event
	for i := range 12 {
		m := metric.Metric{Key: fmt.Sprintf("checkout-error-rate-%02d", i), Kind: metric.Conversion, Event: "error-" + strconv.Itoa(i), Direction: metric.LowerIsBetter}
		if err := m.Normalize(); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
		gs = append(gs, rollout.Guardrail{Metric: m.Key, Tolerance: 0.01})
	}
	for u := range 2000 {
		v := []string{"classic", "one-page"}[u%2]
		key := "user-" + strconv.Itoa(u)
		events = append(events, ingest.Event{Type: ingest.Exposure, Flag: "checkout", Variant: v, TargetingKey: key, Time: 1_767_225_600_000, TimeSet: true})
		// 10% of the baseline's users have each error, 40% of the variant's.
		if (v == "classic" && u%20 == 0) || (v == "one-page" && u%10 < 8 && u%20 < 8) {
			for _, m := range ms {
				events = append(events, ingest.Event{Type: ingest.Tracking, Name: m.Event, TargetingKey: key, Time: 1_767_225_600_001, TimeSet: true})
			}
		}
	}
	fl := newMemFlags(t, checkoutFlag())
	store := &memRollouts{flags: fl}
	eng := rollout.NewEngine(store, fl, fixedData{ms, storetest.RecomputeEvents(t, ms, events)}, nil)
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	eng.Now = func() time.Time { return now }
	p := goodPlan()
	p.Guardrails = gs
	if _, err := eng.Start(ctx, env, p, "test", ""); err != nil {
		t.Fatal(err)
	}
	st := mustTickStatus(t, eng)
	if st.State != rollout.RolledBack || !strings.HasPrefix(st.Reason, "guardrail checkout-error-rate-00 rose") {
		t.Fatalf("state %s, reason %.80q…; want rolled back on the guardrails", st.State, st.Reason)
	}
	texts := map[string]string{"rollout reason": st.Reason}
	for i, ev := range st.History {
		texts[fmt.Sprintf("history %d (%s)", i, ev.Kind)] = ev.Reason
	}
	for i, r := range fl.reasons {
		texts[fmt.Sprintf("flag change %d", i)] = r
	}
	for what, s := range texts {
		if err := valueloop.CheckReason("reason", s); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
}
