package rollout_test

import (
	"context"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/rollout"
)

// checkoutPlan is a plan of the world's flag without guardrails, each step
// but the last held for a day.
func checkoutPlan(percents ...float64) rollout.Plan {
	p := rollout.Plan{Flag: "checkout", Variant: "one-page", Baseline: "classic"}
	for i, pct := range percents {
		s := rollout.Step{Percent: pct}
		if i < len(percents)-1 {
			s.MinDuration = hours(24)
		}
		p.Steps = append(p.Steps, s)
	}
	return p
}

// start starts plan through the engine, by the release manager.
func (w *world) start(plan rollout.Plan) {
	w.t.Helper()
	if _, err := w.engine.Start(context.Background(), env, plan, "release-manager", ""); err != nil {
		w.t.Fatal(err)
	}
}

// peer is a second node on the world's database: its own flag service and
// engine, its live flags loaded now and told of no later write of the
// world's node (as a node is until the change notification arrives).
func (w *world) peer() (*flags.Service, *rollout.Engine) {
	w.t.Helper()
	fl := flags.NewService(w.db, nil)
	if err := fl.Load(context.Background()); err != nil {
		w.t.Fatal(err)
	}
	eng := rollout.NewEngine(w.db, fl, w.db, nil)
	eng.Now = w.clock.Now
	return fl, eng
}

// setState enables or disables the world's flag through fl.
func (w *world) setState(fl *flags.Service, state string) {
	w.t.Helper()
	f := fl.Live(env).Snapshot.Set().Flags["checkout"]
	if _, err := fl.SetState(context.Background(), env, "checkout", state, f.Version, "on-call", state); err != nil {
		w.t.Fatal(err)
	}
}

// pausedByDisabling is a world whose rollout the tick paused for the flag
// being disabled.
func pausedByDisabling(t *testing.T, seed uint64) *world {
	w := newWorld(t, seed)
	w.start(checkoutPlan(10, 100))
	w.setState(w.flags, valueloop.StateDisabled)
	w.tick()
	return w
}

// TestManualAdvanceOnALaggingNode: on several nodes a peer's step reaches
// this node's live flags a moment later. An advance by hand on this node in
// that moment must take the step, not write the split over the stale flag,
// fail on the version check and pause the rollout.
func TestManualAdvanceOnALaggingNode(t *testing.T) {
	w := newWorld(t, 9)
	ctx := context.Background()
	w.start(checkoutPlan(10, 20, 40, 100))
	_, engineB := w.peer()
	if _, err := w.engine.Act(ctx, env, "checkout", rollout.KindAdvance, "alice", "on node A"); err != nil {
		t.Fatal(err)
	}
	r, err := engineB.Act(ctx, env, "checkout", rollout.KindAdvance, "bob", "on node B")
	if err != nil {
		t.Fatalf("advance on node B: %v", err)
	}
	if r.State != rollout.Running || r.Percent != 40 {
		t.Errorf("after advancing on node B: %s at %v%%, want running at 40%%", r.State, r.Percent)
	}
	if err := w.flags.Load(ctx); err != nil {
		t.Fatal(err)
	}
	f := w.flags.Live(env).Snapshot.Set().Flags["checkout"]
	if got, err := rollout.SplitOf(f, "one-page", "classic"); err != nil || got != rollout.Weight(40) {
		t.Errorf("the flag's split is %d (%v), want %d", got, err, rollout.Weight(40))
	}
}

// TestResumeOnALaggingNodeAfterEnabling: a flag enabled again on one node
// may still look disabled on another for a moment; resuming there must
// not be refused for it.
func TestResumeOnALaggingNodeAfterEnabling(t *testing.T) {
	w := pausedByDisabling(t, 10)
	_, engineB := w.peer()
	w.setState(w.flags, valueloop.StateEnabled) // on node A; node B has not seen it
	r, err := engineB.Act(context.Background(), env, "checkout", rollout.KindResume, "bob", "enabled again")
	if err != nil {
		t.Fatalf("resume on node B: %v", err)
	}
	if r.State != rollout.Running {
		t.Errorf("after resuming on node B: %s, want running", r.State)
	}
}

// TestLeaderLaggingBehindAnEnabledFlag: the node that ticks may not yet
// have seen a peer enable the flag and resume the rollout; it must not
// pause the rollout again for a flag it only thinks disabled.
func TestLeaderLaggingBehindAnEnabledFlag(t *testing.T) {
	w := pausedByDisabling(t, 11)
	flagsB, engineB := w.peer()
	w.setState(flagsB, valueloop.StateEnabled)
	if _, err := engineB.Act(context.Background(), env, "checkout", rollout.KindResume, "bob", "enabled again"); err != nil {
		t.Fatal(err)
	}
	w.tick() // node A, which has not seen the flag enabled
	if st := w.status(); st.State != rollout.Running {
		t.Errorf("after node A's tick: %s (%q), want still running", st.State, st.Reason)
	}
}

// TestRollbackOnALaggingNodeOfADeletedFlag: a flag deleted on one node may
// still be live on another for a moment; rolling its rollout back there
// must end it without an error, as it does on the node that saw the
// deletion (TestRollbackOfDeletedFlag), not store the rollback and then
// answer 404 for the flag it could not write.
func TestRollbackOnALaggingNodeOfADeletedFlag(t *testing.T) {
	w := newWorld(t, 12)
	ctx := context.Background()
	w.start(checkoutPlan(10, 100))
	_, engineB := w.peer()
	f := w.flags.Live(env).Snapshot.Set().Flags["checkout"]
	if err := w.flags.DeleteFlag(ctx, env, "checkout", f.Version, "someone", "not needed"); err != nil {
		t.Fatal(err)
	}
	r, err := engineB.Act(ctx, env, "checkout", rollout.KindRollback, "bob", "flag gone")
	if err != nil {
		t.Fatalf("rollback on node B: %v", err)
	}
	if r.State != rollout.RolledBack {
		t.Errorf("after rolling back on node B: %s, want rolled back", r.State)
	}
}
