package rollout_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/rollout"
)

// TestDisabledFlagPausesTheRollout: disabling a flag is the kill switch.
// A rollout whose flag someone disables must not go on advancing it on
// time alone (nobody is exposed, so nothing guards it) and hand whoever
// enables it again a release at a share nobody watched: it pauses and says
// why, and leaves the flag disabled.
func TestDisabledFlagPausesTheRollout(t *testing.T) {
	w := newWorld(t, 7)
	ctx := context.Background()
	plan := rollout.Plan{
		Flag: "checkout", Variant: "one-page", Baseline: "classic",
		Steps: []rollout.Step{{Percent: 10, MinDuration: hours(1)}, {Percent: 50, MinDuration: hours(1)}, {Percent: 100}},
	}
	if _, err := w.api.StartRollout(ctx, env, plan, ""); err != nil {
		t.Fatal(err)
	}
	w.setState(w.flags, valueloop.StateDisabled)
	w.clock.Add(2 * time.Hour)
	if st := w.status(); !strings.Contains(st.Waiting, "next tick: pause") {
		t.Errorf("status with the flag disabled says %q, want the pause the next tick makes", st.Waiting)
	}
	for range 3 {
		w.clock.Add(2 * time.Hour)
		w.tick()
	}
	st := w.status()
	if st.State != rollout.Paused || st.Percent != 10 || !strings.Contains(st.Reason, "disabled") {
		t.Errorf("after 6 hours with the flag disabled: %s at %v%%, reason %q; want paused at 10%% naming the disabled flag", st.State, st.Percent, st.Reason)
	}
	if got := w.flags.Live(env).Snapshot.Set().Flags["checkout"]; got.State != valueloop.StateDisabled {
		t.Errorf("the flag is %s, want it left disabled", got.State)
	}
	// Resuming a rollout of a disabled flag is refused with the reason.
	if _, err := w.api.RolloutAction(ctx, env, "checkout", rollout.KindResume, ""); valueloop.ErrorCode(err) != valueloop.ECONFLICT || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("resuming with the flag disabled: %v, want a conflict naming the disabled flag", err)
	}
}

// TestRollbackOfDeletedFlag: a rollout whose flag was deleted pauses, and
// rolling it back ends it without an error: there is no flag left to set to
// the baseline, so nothing failed. (It answered 404 "flag no longer exists"
// while the rollback was stored, and a retry was a conflict.)
func TestRollbackOfDeletedFlag(t *testing.T) {
	w := newWorld(t, 8)
	ctx := context.Background()
	w.start(checkoutPlan(10, 100))
	if err := w.deleteFlag(*w.flags.Live(env).Snapshot.Set().Flags["checkout"]); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if st := w.status(); st.State != rollout.Paused || !strings.Contains(st.Reason, "no longer exists") {
		t.Fatalf("after the flag was deleted: %s, %q; want paused", st.State, st.Reason)
	}
	st, err := w.api.RolloutAction(ctx, env, "checkout", rollout.KindRollback, "")
	if err != nil {
		t.Fatalf("rolling back a rollout of a deleted flag: %v", err)
	}
	if st.State != rollout.RolledBack {
		t.Errorf("after the rollback: %s, want rolled back", st.State)
	}
}

// TestPauseStopsTheStepClock: a step's minDuration counts the time the
// rollout ran, not the time it was paused. A flag disabled 30 minutes into
// a 1-hour step and enabled and resumed five hours later served nobody in
// between: the step has its 30 minutes left, not an advance at the next
// tick on time nobody watched (which the pause on disabling is there to
// prevent). A pause by hand stops the clock the same way.
func TestPauseStopsTheStepClock(t *testing.T) {
	for _, how := range []string{"kill switch", "by hand"} {
		t.Run(how, func(t *testing.T) {
			w := newWorld(t, 9)
			ctx := context.Background()
			w.start(rollout.Plan{
				Flag: "checkout", Variant: "one-page", Baseline: "classic",
				Steps: []rollout.Step{{Percent: 10, MinDuration: hours(1)}, {Percent: 50, MinDuration: hours(1)}, {Percent: 100}},
			})
			w.clock.Add(30 * time.Minute)
			if how == "kill switch" {
				w.setState(w.flags, valueloop.StateDisabled)
				w.tick()
			} else if _, err := w.api.RolloutAction(ctx, env, "checkout", rollout.KindPause, "looking into a report"); err != nil {
				t.Fatal(err)
			}
			if st := w.status(); st.State != rollout.Paused {
				t.Fatalf("after the pause: %s", st.State)
			}
			w.clock.Add(5 * time.Hour)
			if st := w.status(); !strings.Contains(st.Waiting, "the step's clock is stopped with 30m of its 1h left") {
				t.Errorf("paused for 5 hours, the status says %q; want the 30m the step has left", st.Waiting)
			}
			if how == "kill switch" {
				w.setState(w.flags, valueloop.StateEnabled)
			}
			if _, err := w.api.RolloutAction(ctx, env, "checkout", rollout.KindResume, "fixed"); err != nil {
				t.Fatal(err)
			}
			w.tick()
			if st := w.status(); st.State != rollout.Running || st.Percent != 10 || !strings.Contains(st.Waiting, "30m more at 10%") {
				t.Fatalf("at the resume: %s at %v%%, waiting %q; want running at 10%% with 30m of the step left", st.State, st.Percent, st.Waiting)
			}
			w.clock.Add(30 * time.Minute)
			w.tick()
			if st := w.status(); st.State != rollout.Running || st.Percent != 50 {
				t.Errorf("30 minutes after the resume: %s at %v%%, want advanced to 50%%", st.State, st.Percent)
			}
		})
	}
}

// TestAdvanceRefusedWhileDisabled: advancing by hand a rollout whose flag
// is disabled (the kill switch) took the next step with nobody exposed at
// this one; from the step before the last it completed the rollout, and
// enabling the flag then served everyone the variant, with no rollout left
// to guard it. It is refused (409) naming the disabled flag, and nothing
// changes: the rollout, its history and the flag.
func TestAdvanceRefusedWhileDisabled(t *testing.T) {
	for _, tc := range []struct {
		name string
		tick bool // the tick paused the rollout before the advance
	}{
		{"paused by the tick", true},
		{"running, before the tick", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, 8)
			ctx := context.Background()
			w.start(checkoutPlan(10, 100))
			w.setState(w.flags, valueloop.StateDisabled)
			if tc.tick {
				w.tick()
			}
			before := w.status()
			version := w.flags.Live(env).Snapshot.Set().Flags["checkout"].Version
			_, err := w.api.RolloutAction(ctx, env, "checkout", rollout.KindAdvance, "")
			if valueloop.ErrorCode(err) != valueloop.ECONFLICT || !strings.Contains(err.Error(), `flag "checkout" is disabled`) {
				t.Errorf("advancing with the flag disabled: %v, want a conflict naming the disabled flag", err)
			}
			after := w.status()
			if after.State != before.State || after.Step != before.Step || len(after.History) != len(before.History) {
				t.Errorf("after the refused advance: %s at step %d with %d history entries, want %s at %d with %d",
					after.State, after.Step, len(after.History), before.State, before.Step, len(before.History))
			}
			if f := w.flags.Live(env).Snapshot.Set().Flags["checkout"]; f.Version != version {
				t.Errorf("the flag was written: version %d, was %d", f.Version, version)
			}
			if pct := after.LivePercent; pct == nil || *pct != 10 {
				t.Errorf("the flag's split after the refused advance: %s, want 10%%", livePercent(after))
			}
		})
	}
}
