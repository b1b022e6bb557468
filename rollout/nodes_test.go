package rollout_test

import (
	"context"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/rollout"
)

// TestManualAdvanceOnALaggingNode: on several nodes a peer's step reaches
// this node's live flags a moment later. An advance by hand on this node in
// that moment must take the step, not write the split over the stale flag,
// fail on the version check and pause the rollout.
func TestManualAdvanceOnALaggingNode(t *testing.T) {
	w := newWorld(t, 9)
	ctx := context.Background()
	plan := rollout.Plan{
		Flag: "checkout", Variant: "one-page", Baseline: "classic",
		Steps: []rollout.Step{{Percent: 10, MinDuration: hours(24)}, {Percent: 20, MinDuration: hours(24)}, {Percent: 40, MinDuration: hours(24)}, {Percent: 100}},
	}
	if _, err := w.engine.Start(ctx, env, plan, "release-manager", ""); err != nil {
		t.Fatal(err)
	}
	// Node B: its own flag service and engine on the same database, its
	// live flags loaded now and not told of node A's next write.
	flagsB := flags.NewService(w.db, nil)
	if err := flagsB.Load(ctx); err != nil {
		t.Fatal(err)
	}
	engineB := rollout.NewEngine(w.db, flagsB, w.db, nil)
	engineB.Now = w.clock.Now

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
	w := newWorld(t, 10)
	ctx := context.Background()
	plan := rollout.Plan{
		Flag: "checkout", Variant: "one-page", Baseline: "classic",
		Steps: []rollout.Step{{Percent: 10, MinDuration: hours(24)}, {Percent: 100}},
	}
	if _, err := w.engine.Start(ctx, env, plan, "release-manager", ""); err != nil {
		t.Fatal(err)
	}
	setState := func(state string) {
		t.Helper()
		f := w.flags.Live(env).Snapshot.Set().Flags["checkout"]
		if _, err := w.flags.SetState(ctx, env, "checkout", state, f.Version, "on-call", state); err != nil {
			t.Fatal(err)
		}
	}
	setState(valueloop.StateDisabled)
	w.tick() // pauses it
	flagsB := flags.NewService(w.db, nil)
	if err := flagsB.Load(ctx); err != nil {
		t.Fatal(err)
	}
	engineB := rollout.NewEngine(w.db, flagsB, w.db, nil)
	engineB.Now = w.clock.Now
	setState(valueloop.StateEnabled) // on node A; node B has not seen it
	r, err := engineB.Act(ctx, env, "checkout", rollout.KindResume, "bob", "enabled again")
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
	w := newWorld(t, 11)
	ctx := context.Background()
	plan := rollout.Plan{
		Flag: "checkout", Variant: "one-page", Baseline: "classic",
		Steps: []rollout.Step{{Percent: 10, MinDuration: hours(24)}, {Percent: 100}},
	}
	if _, err := w.engine.Start(ctx, env, plan, "release-manager", ""); err != nil {
		t.Fatal(err)
	}
	f := w.flags.Live(env).Snapshot.Set().Flags["checkout"]
	if _, err := w.flags.SetState(ctx, env, "checkout", valueloop.StateDisabled, f.Version, "on-call", "kill"); err != nil {
		t.Fatal(err)
	}
	w.tick() // pauses it
	flagsB := flags.NewService(w.db, nil)
	if err := flagsB.Load(ctx); err != nil {
		t.Fatal(err)
	}
	engineB := rollout.NewEngine(w.db, flagsB, w.db, nil)
	engineB.Now = w.clock.Now
	f = flagsB.Live(env).Snapshot.Set().Flags["checkout"]
	if _, err := flagsB.SetState(ctx, env, "checkout", valueloop.StateEnabled, f.Version, "on-call", "fixed"); err != nil {
		t.Fatal(err)
	}
	if _, err := engineB.Act(ctx, env, "checkout", rollout.KindResume, "bob", "enabled again"); err != nil {
		t.Fatal(err)
	}
	w.tick() // node A, which has not seen the flag enabled
	if st := w.status(); st.State != rollout.Running {
		t.Errorf("after node A's tick: %s (%q), want still running", st.State, st.Reason)
	}
}
