package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
)

// RolloutFlag is the flag of the demo rollout: the one-page checkout,
// at 5% of production in the demo file.
const RolloutFlag = "checkout-flow"

// RolloutStore is what LoadRollout reads and writes.
type RolloutStore interface {
	Metrics(ctx context.Context, env string) ([]metric.Metric, error)
	CreateMetric(ctx context.Context, env string, m *metric.Metric, actor string) error
}

// RolloutEngine starts and lists rollouts (rollout.Engine).
type RolloutEngine interface {
	StartAt(ctx context.Context, env string, p rollout.Plan, actor, reason string, at time.Time) (*rollout.Rollout, error)
	List(ctx context.Context, f rollout.Filter) ([]rollout.Rollout, error)
}

// RolloutMetric is the demo rollout's guardrail metric.
func RolloutMetric() metric.Metric {
	return metric.Metric{Key: "checkout-errors", Name: "Checkout errors", Kind: metric.Conversion, Event: "checkout_error",
		Direction: metric.LowerIsBetter, Window: metric.Window(24 * time.Hour)}
}

// RolloutPlan is the demo rollout: it takes over the file's 5% split and
// goes on to 25%, 50% and 100% a day apart, each step with a minimum of
// new users of one-page, while checkout errors do not rise by more than
// 5%. The minimums are set: by default a step waits for the users that
// detect a 5% harm on a 5% error rate (about 175,000), which the demo's
// 20,000 shoppers never reach, and a newcomer saw a step waiting for
// them.
func RolloutPlan() rollout.Plan {
	day := rollout.Duration(24 * time.Hour)
	return rollout.Plan{
		Flag: RolloutFlag, Variant: "one-page", Baseline: "classic",
		Steps: []rollout.Step{
			{Percent: 5, MinDuration: day, MinUsers: 1000}, {Percent: 25, MinDuration: day, MinUsers: 2000},
			{Percent: 50, MinDuration: day, MinUsers: 5000}, {Percent: 100},
		},
		Guardrails: []rollout.Guardrail{{Metric: "checkout-errors", Tolerance: 0.05}},
		OnBreach:   rollout.RollbackOnBreach,
	}
}

// LoadRollout puts the demo rollout under way in env, unless the flag has
// had a rollout there before (so restarting with --demo never starts a
// second one): it defines the guardrail metric where missing, starts the
// plan dated six hours ago and sends the six hours since of synthetic
// checkouts of 20,000 users through the ingestion pipeline, each served
// the variant the live flag gives them, with the same error rate (5%) in
// both variants. It returns the number of events stored.
func LoadRollout(ctx context.Context, store RolloutStore, eng RolloutEngine, p interface {
	Ingest(ctx context.Context, env string, events []ingest.Event) ([]bool, error)
	Rebuild(ctx context.Context, env string) (ingest.RebuildResult, error)
}, live func() *flags.Live, env string, now time.Time) (int, error) {
	if rs, err := eng.List(ctx, rollout.Filter{Environment: env, Flag: RolloutFlag, Limit: 1}); err != nil || len(rs) > 0 {
		return 0, err
	}
	if l := live(); l == nil || l.Snapshot.Set().Flags[RolloutFlag] == nil {
		return 0, nil // the demo flags were not loaded here: someone's own data
	}
	have, err := store.Metrics(ctx, env)
	if err != nil {
		return 0, err
	}
	m := RolloutMetric()
	known := false
	for _, h := range have {
		known = known || h.Key == m.Key
	}
	if !known {
		if err := m.Normalize(); err != nil {
			return 0, err
		}
		if err := store.CreateMetric(ctx, env, &m, "demo"); err != nil {
			return 0, err
		}
		// The pipeline may hold env's state from before the metric.
		if _, err := p.Rebuild(ctx, env); err != nil {
			return 0, err
		}
	}
	// The rollout started six hours ago, when its traffic began.
	start := now.Add(-6 * time.Hour)
	if _, err := eng.StartAt(ctx, env, RolloutPlan(), "demo", "demo: release the one-page checkout", start); err != nil {
		return 0, err
	}
	snap := live().Snapshot
	r := rand.New(rand.NewPCG(2026, 8))
	var events []ingest.Event
	ctxMap := map[string]any{}
	for i := range 20000 {
		key := fmt.Sprintf("shopper-%05d", i)
		ctxMap["targetingKey"] = key
		// One shopper in 25 is in New Zealand, whom the flag's rule serves
		// the one-page checkout: outside the split, in the rollout's reach
		// and not its guardrails (ingest.Event.OutsideSplit).
		delete(ctxMap, "country")
		if i%25 == 0 {
			ctxMap["country"] = "NZ"
		}
		res := snap.Evaluate(RolloutFlag, ctxMap)
		t0 := start.Add(time.Duration(r.Int64N(int64(6*time.Hour - 10*time.Minute))))
		events = append(events, ingest.Event{Type: ingest.Exposure, ID: "demo-checkout-x" + key, Flag: RolloutFlag, Variant: res.Variant,
			TargetingKey: key, Time: t0.UnixMilli(), TimeSet: true, OutsideSplit: res.Reason != evaluation.ReasonSplit})
		if r.Float64() < 0.05 {
			at := t0.Add(time.Duration(r.Int64N(int64(5 * time.Minute))))
			events = append(events, ingest.Event{Type: ingest.Tracking, ID: "demo-checkout-e" + key, Name: "checkout_error",
				TargetingKey: key, Time: at.UnixMilli(), TimeSet: true})
		}
	}
	fresh, err := p.Ingest(ctx, env, events)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ok := range fresh {
		if ok {
			n++
		}
	}
	return n, nil
}
