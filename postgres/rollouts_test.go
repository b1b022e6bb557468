package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/postgres"
	"github.com/valueloop/valueloop/postgres/pgtest"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/storetest"
)

// TestRolloutTickAfterPeerStep: a rollout advanced through node B, then
// ticked by the leader A before A's flag snapshot has B's write (the change
// feed lags by milliseconds, by up to 5 s after a dropped connection; here
// A hears nothing). A must not take its old snapshot for a change made
// outside the rollout. Before, A paused the rollout: "the flag was changed
// outside the rollout".
func TestRolloutTickAfterPeerStep(t *testing.T) {
	dsn := pgtest.Schema(t)
	a, b := MustOpen(t, dsn, nil), MustOpen(t, dsn, nil)
	fa, fb := rolloutFlags(t, a, b)
	ea, eb := rollout.NewEngine(a, fa, a, nil), rollout.NewEngine(b, fb, b, nil)
	startOnA(t, ea, fb)
	advanceOnBTickOnA(t, ea, eb)
}

// tickingFlags is node B's flags whose next PutFlag, once armed, first
// lets node A's engine tick: B has stored its transition and not yet
// written the flag.
type tickingFlags struct {
	*flags.Service
	tick func() error
}

func (f *tickingFlags) PutFlag(ctx context.Context, env string, fl *valueloop.Flag, ifVersion int64, actor, reason string) (int64, error) {
	if tick := f.tick; tick != nil {
		f.tick = nil
		done := make(chan error, 1)
		go func() { done <- tick() }()
		select { // A's tick, or a moment of it if it waits for B
		case <-done:
		case <-time.After(200 * time.Millisecond):
		}
	}
	return f.Service.PutFlag(ctx, env, fl, ifVersion, actor, reason)
}

// TestRolloutActDuringPeerTick: node B advances a rollout and, between
// storing the step and writing the flag, the leader A ticks. A must not
// write the flag as well (it took the step for one whose flag write was
// lost in a crash), so B's own write conflicting and B's advance failing,
// or the rollout paused for a flag "someone changed first".
func TestRolloutActDuringPeerTick(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t)
	a, b := MustOpen(t, dsn, nil), MustOpen(t, dsn, nil)
	fa, fb := rolloutFlags(t, a, b)
	tb := &tickingFlags{Service: fb}
	ea, eb := rollout.NewEngine(a, fa, a, nil), rollout.NewEngine(b, tb, b, nil)
	startOnA(t, ea, fb)
	tb.tick = func() error { return ea.Tick(ctx) }
	advanceOnBTickOnA(t, ea, eb)
}

// rolloutFlags stores environment prod with metric error-rate and flag
// checkout, and returns the flag services of nodes a and b, loaded.
func rolloutFlags(t *testing.T, a, b *postgres.DB) (*flags.Service, *flags.Service) {
	ctx := t.Context()
	storetest.CreateEnvWithMetrics(t, a, "prod", []metric.Metric{{Key: "error-rate", Kind: metric.Conversion, Event: "error", Direction: metric.LowerIsBetter}})
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
	return fa, fb
}

// checkoutPlan rolls one-page of checkout out in steps of 10, 50 and 100%.
func checkoutPlan() rollout.Plan {
	return rollout.Plan{Flag: "checkout", Variant: "one-page", Baseline: "classic",
		Steps:      []rollout.Step{{Percent: 10, MinDuration: rollout.Duration(time.Hour)}, {Percent: 50, MinDuration: rollout.Duration(time.Hour)}, {Percent: 100}},
		Guardrails: []rollout.Guardrail{{Metric: "error-rate", Tolerance: 0.02}}}
}

// startOnA starts checkoutPlan through node A's engine ea; B's flags fb
// hear of it.
func startOnA(t *testing.T, ea *rollout.Engine, fb *flags.Service) {
	if _, err := ea.Start(t.Context(), "prod", checkoutPlan(), "t", ""); err != nil {
		t.Fatal(err)
	}
	if err := fb.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// advanceOnBTickOnA advances the rollout through node B's engine eb, ticks
// node A's ea, and checks the rollout runs at the second step.
func advanceOnBTickOnA(t *testing.T, ea, eb *rollout.Engine) {
	ctx := t.Context()
	if _, err := eb.Act(ctx, "prod", "checkout", rollout.KindAdvance, "t", "looks good"); err != nil {
		t.Errorf("advance through B: %v", err)
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

// TestRolloutCrashedRollbackFinishedOnce: a rollback stored and its flag
// write lost (a crash in between) is finished by the ticks; two nodes
// ticking at once, each on live flags that have not seen the other's
// write, write the baseline once between them, without an error.
func TestRolloutCrashedRollbackFinishedOnce(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t)
	a, b := MustOpen(t, dsn, nil), MustOpen(t, dsn, nil)
	fa, fb := rolloutFlags(t, a, b)
	ea, eb := rollout.NewEngine(a, fa, a, nil), rollout.NewEngine(b, fb, b, nil)
	startOnA(t, ea, fb)
	rs, err := a.Rollouts(ctx, rollout.Filter{Active: true})
	if err != nil || len(rs) != 1 {
		t.Fatalf("active rollouts: %v, %v", rs, err)
	}
	next, ev, err := rs[0].Apply(rollout.KindRollback, time.Now(), 0, rollout.EngineActor, "guardrail error-rate rose", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.UpdateRollout(ctx, &next, &ev); err != nil { // and crash
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	for _, e := range []*rollout.Engine{ea, eb} {
		go func() { errs <- e.Tick(ctx) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("tick: %v", err)
		}
	}
	entries, err := a.Audit(ctx, valueloop.AuditFilter{Target: "checkout"})
	if err != nil {
		t.Fatal(err)
	}
	writes := 0
	for _, en := range entries {
		if en.Action == "flag.update" && strings.Contains(en.Reason, "rolled back") {
			writes++
		}
	}
	if err := fa.Load(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := rollout.SplitOf(fa.Live("prod").Snapshot.Set().Flags["checkout"], "one-page", "classic")
	if writes != 1 || err != nil || got != 0 {
		t.Errorf("the rollback's write made %d times, the flag's split %d (%v); want once, 0", writes, got, err)
	}
}
