package rollout_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/valueloop/valueloop/rollout"
)

// TestRollbackFinishedAfterACrash: a rollback is stored before the flag is
// written, as every transition is. A crash (kill -9) between the two left
// the rollout rolled back and the flag serving the variant for good: the
// ticks look at active rollouts only, and a rolled-back one is not. The
// next tick must write the baseline, as it finishes an advance's write.
func TestRollbackFinishedAfterACrash(t *testing.T) {
	w := newWorld(t, 11)
	ctx := context.Background()
	w.start(checkoutPlan(20, 100))
	rs, err := w.engine.List(ctx, rollout.Filter{Environment: env, Flag: "checkout", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	next, ev, err := rs[0].Apply(rollout.KindRollback, w.clock.Now(), 0, rollout.EngineActor, "guardrail error-rate rose", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.db.UpdateRollout(ctx, &next, &ev); err != nil {
		t.Fatal(err)
	}
	w.restart()
	w.tick()
	st := w.status()
	if st.State != rollout.RolledBack || st.LivePercent == nil || *st.LivePercent != 0 {
		t.Fatalf("after the crash and a tick: %s, flag at %s; want rolled back with the flag at 0%%", st.State, livePercent(st))
	}
	if got := w.split(); got != 0 {
		t.Errorf("%.1f%% of new users get one-page after the rollback, want 0", got)
	}
	// Done once: a later edit by hand is not fought.
	w.halfByHand()
	w.tick()
	if got := w.split(); got < 40 {
		t.Errorf("the engine undid a later edit by hand: %.1f%% one-page, want about 50", got)
	}
}

// livePercent writes a status's LivePercent, nil as "no split".
func livePercent(st *rollout.Status) string {
	if st.LivePercent == nil {
		return "no split"
	}
	return fmt.Sprintf("%v%%", *st.LivePercent)
}
