package rollout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
)

// TestStaffOutsideSplitLeftOutOfGuardrails: a rule serves staff the
// released variant, and every one of them errs. Their exposures say that
// the split did not choose them (the evaluation's reason), so the
// guardrail compares the split's users alone and holds, while the
// rollout's users count everyone the variant reached.
func TestStaffOutsideSplitLeftOutOfGuardrails(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	m := errorMetric()
	events := &memEvents{metrics: []metric.Metric{m}, aggs: map[[4]string]metric.Aggregate{}}
	pipe := ingest.NewPipeline(events, nil)
	if err := pipe.Open(); err != nil {
		t.Fatal(err)
	}
	defer pipe.Close()
	f := checkoutFlag()
	f.Targeting = json.RawMessage(`{"if":[{"ends_with":[{"var":"email"},"@staff"]},"one-page",{"fractional":[["classic",100]]}]}`)
	fl := newMemFlags(t, f)
	eng := rollout.NewEngine(&memRollouts{flags: fl}, fl, events, nil)
	eng.Now = clk.Now
	plan := rollout.Plan{
		Flag: "checkout", Variant: "one-page", Baseline: "classic",
		Steps:      []rollout.Step{{Percent: 50, MinDuration: hours(1)}, {Percent: 100}},
		Guardrails: []rollout.Guardrail{{Metric: m.Key, Tolerance: 0.5}},
	}
	if _, err := eng.Start(ctx, env, plan, "test", ""); err != nil {
		t.Fatal(err)
	}
	clk.Add(10 * time.Minute)
	snap := fl.Live(env).Snapshot
	at := clk.Now().UnixMilli()
	var batch []ingest.Event
	split := map[string]int64{}
	const staff = 200
	for i := range 2000 + staff {
		key, email := fmt.Sprintf("u%d", i), "someone@example.com"
		if i < staff {
			email = "someone@staff"
		}
		res := snap.Evaluate("checkout", map[string]any{"targetingKey": key, "email": email})
		outside := res.Reason != evaluation.ReasonSplit
		if !outside {
			split[res.Variant]++
		}
		batch = append(batch, ingest.Event{Type: ingest.Exposure, Flag: "checkout", Variant: res.Variant, TargetingKey: key, Time: at, TimeSet: true, OutsideSplit: outside})
		if i < staff || i%10 == 0 {
			batch = append(batch, ingest.Event{Type: ingest.Tracking, Name: "error", TargetingKey: key, Time: at + 1, TimeSet: true})
		}
	}
	if _, err := pipe.Ingest(ctx, env, batch); err != nil {
		t.Fatal(err)
	}
	st := mustTickStatus(t, eng)
	if st.Users["one-page"] != split["one-page"]+staff || st.Users["classic"] != split["classic"] {
		t.Errorf("users %v, want the split's %v with the %d staff in one-page", st.Users, split, staff)
	}
	if len(st.Guardrails) != 1 {
		t.Fatalf("guardrails %+v", st.Guardrails)
	}
	g := st.Guardrails[0]
	if g.VariantUsers != split["one-page"] || g.BaselineUsers != split["classic"] || g.Breached() {
		t.Errorf("guardrail %+v: want the split's users alone (%v), not breached", g, split)
	}
	if !st.State.Active() {
		t.Errorf("state %s: the staff's errors rolled it back", st.State)
	}
}
