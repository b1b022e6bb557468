package postgres_test

import (
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/postgres/pgtest"
	"github.com/valueloop/valueloop/rollout"
)

// TestRolloutTickAfterPeerStep: a rollout advanced through node B, then
// ticked by the leader A before A's flag snapshot has B's write (the change
// feed lags by milliseconds, by up to 5 s after a dropped connection; here
// A hears nothing). A must not take its old snapshot for a change made
// outside the rollout. Before, A paused the rollout: "the flag was changed
// outside the rollout".
func TestRolloutTickAfterPeerStep(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t)
	a, b := MustOpen(t, dsn, nil), MustOpen(t, dsn, nil)
	if err := a.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	m := metric.Metric{Key: "error-rate", Kind: metric.Conversion, Event: "error", Direction: metric.LowerIsBetter}
	if err := a.CreateMetric(ctx, "prod", &m, "t"); err != nil {
		t.Fatal(err)
	}
	classic := "classic"
	f := &valueloop.Flag{Key: "checkout", State: valueloop.StateEnabled, Variants: map[string]any{"classic": "classic", "one-page": "one-page"}, DefaultVariant: &classic}
	if _, _, err := a.PutFlag(ctx, "prod", f, 0, "t", ""); err != nil {
		t.Fatal(err)
	}
	fa, fb := flags.NewService(a, nil), flags.NewService(b, nil)
	for _, s := range []*flags.Service{fa, fb} {
		if err := s.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ea, eb := rollout.NewEngine(a, fa, a, nil), rollout.NewEngine(b, fb, b, nil)
	plan := rollout.Plan{Flag: "checkout", Variant: "one-page", Baseline: "classic",
		Steps:      []rollout.Step{{Percent: 10, MinDuration: rollout.Duration(time.Hour)}, {Percent: 50, MinDuration: rollout.Duration(time.Hour)}, {Percent: 100}},
		Guardrails: []rollout.Guardrail{{Metric: "error-rate", Tolerance: 0.02}}}
	if _, err := ea.Start(ctx, "prod", plan, "t", ""); err != nil {
		t.Fatal(err)
	}
	if err := fb.Load(ctx); err != nil { // B hears of the start
		t.Fatal(err)
	}
	if _, err := eb.Act(ctx, "prod", "checkout", rollout.KindAdvance, "t", "looks good"); err != nil {
		t.Fatal(err)
	}
	if err := ea.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := eb.Status(ctx, "prod", "checkout")
	if err != nil {
		t.Fatal(err)
	}
	if st.Rollout.State != rollout.Running || st.Rollout.Percent != 50 {
		t.Errorf("after A's tick the rollout is %s at %v%% (%s), want running at 50%%", st.Rollout.State, st.Rollout.Percent, st.Rollout.Reason)
	}
}
