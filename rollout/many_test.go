package rollout_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/rollout"
)

// TestTickReachesEveryActiveRollout: the tick read the 1,000 newest active
// rollouts only, so with more the oldest was never stepped nor guarded (a
// breach on it never rolled back). Here the world's rollout is the oldest
// of 1,001 active ones and its flag is edited by hand: a tick that looks
// at it pauses it, saying what it found.
func TestTickReachesEveryActiveRollout(t *testing.T) {
	w := newWorld(t, 3)
	w.start(checkoutPlan(20, 100))
	// Paused rollouts of flags that do not exist: the tick looks at them
	// and leaves them as they are.
	others(t, w, 1000, rollout.Paused)
	w.halfByHand()
	w.tick()
	if st := w.status(); st.State != rollout.Paused || !strings.Contains(st.Reason, "changed outside the rollout") {
		t.Errorf("the oldest of 1,001 active rollouts after a tick: %s (%q); want paused for the edit by hand", st.State, st.Reason)
	}
}

// TestOldRollbackFinishedAfterACrash: recovery of a rollback whose flag
// write a crash cut short looked only at the 50 newest rolled-back
// rollouts, so one older than those stayed unfinished, its flag serving
// the variant. The rollback marks its flag write pending in the store, and
// the tick finishes every rollout so marked, however old.
func TestOldRollbackFinishedAfterACrash(t *testing.T) {
	w := newWorld(t, 12)
	w.start(checkoutPlan(20, 100))
	crashedRollback(t, w)
	others(t, w, 60, rollout.RolledBack)
	w.restart()
	w.tick()
	if got := w.split(); got != 0 {
		t.Errorf("%.1f%% of new users get one-page after the rollback, older than 60 others, and a tick; want 0", got)
	}
	pending, err := w.db.Rollouts(context.Background(), rollout.Filter{FlagPending: true})
	if err != nil || len(pending) != 0 {
		t.Errorf("rollouts with a flag write pending after the tick: %d, %v; want none", len(pending), err)
	}
}

// others stores n rollouts in state of flags that do not exist, newer than
// the world's.
func others(t *testing.T, w *world, n int, state rollout.State) {
	t.Helper()
	for i := range n {
		r := rollout.Start(env, checkoutPlan(20, 100), "test", w.clock.Now(), 0)
		r.Plan.Flag, r.State = fmt.Sprintf("other-%d", i), state
		ev := rollout.Event{At: w.clock.Now(), Kind: rollout.KindStart, Actor: "test", State: r.State, Percent: r.Percent}
		if err := w.db.CreateRollout(context.Background(), &r, &ev); err != nil {
			t.Fatal(err)
		}
	}
}
