package rollout_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valueloop/valueloop/rollout"
)

// historyCounter counts the reads of rollouts' histories.
type historyCounter struct {
	rollout.Store
	reads atomic.Int64
}

func (c *historyCounter) RolloutEvents(ctx context.Context, id int64) ([]rollout.Event, error) {
	c.reads.Add(1)
	return c.Store.RolloutEvents(ctx, id)
}

// TestHeldRolloutTickReadsNoHistory: a held rollout (waiting for its
// guardrails' minSample) knows from its own state that its hold was
// announced: a tick does not read its whole history, which grows with the
// rollout, to find out. Before, every tick of every held rollout did. The
// next step is held and announced again, once.
func TestHeldRolloutTickReadsNoHistory(t *testing.T) {
	w := newWorld(t, 7)
	ctx := context.Background()
	plan := untoleratedPlan()
	plan.Steps = []rollout.Step{{Percent: 5, MinDuration: hours(1)}, {Percent: 50, MinDuration: hours(1)}, {Percent: 100}}
	if _, err := w.api.StartRollout(ctx, env, plan, ""); err != nil {
		t.Fatal(err)
	}
	counter := &historyCounter{Store: w.engine.Store}
	w.engine.Store = counter
	w.clock.Add(2 * time.Hour)
	w.tick() // announces the hold
	before := counter.reads.Load()
	for range 10 {
		w.clock.Add(10 * time.Minute)
		w.tick()
	}
	if n := counter.reads.Load() - before; n != 0 {
		t.Errorf("%d history reads in 10 ticks of a held rollout whose hold was announced, want 0", n)
	}
	if n := holds(t, w); n != 1 {
		t.Errorf("%d hold entries in the history, want 1", n)
	}
	// The next step, taken by hand, is held too: announced once more.
	if _, err := w.engine.Act(ctx, env, "checkout", rollout.KindAdvance, "alice", "next step"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		w.clock.Add(2 * time.Hour)
		w.tick()
	}
	if n := holds(t, w); n != 2 {
		t.Errorf("%d hold entries in the history after the next step was held, want 2", n)
	}
}

// holds counts the hold entries of the world's rollout, which must be held.
func holds(t *testing.T, w *world) int {
	t.Helper()
	st := w.status()
	if st.Held == nil {
		t.Fatalf("status %+v: want held", st.Rollout)
	}
	n := 0
	for _, ev := range st.History {
		if ev.Kind == rollout.KindHold {
			n++
		}
	}
	return n
}

// TestHeldSinceAfterAPause: a step held past its time, paused and resumed
// later is held again from the resume. Its hold said "since" a moment
// inside the pause (the step's end moved on by the whole pause, though its
// time had run out before it), when nothing was held: the rollout was
// paused.
func TestHeldSinceAfterAPause(t *testing.T) {
	w := newWorld(t, 7)
	ctx := context.Background()
	plan := untoleratedPlan()
	plan.Steps = []rollout.Step{{Percent: 5, MinDuration: hours(1)}, {Percent: 100}}
	if _, err := w.api.StartRollout(ctx, env, plan, ""); err != nil {
		t.Fatal(err)
	}
	w.clock.Add(2 * time.Hour) // held for the last hour
	w.tick()
	if _, err := w.engine.Act(ctx, env, "checkout", rollout.KindPause, "alice", "lunch"); err != nil {
		t.Fatal(err)
	}
	paused := w.clock.Now()
	w.clock.Add(3 * time.Hour)
	if _, err := w.engine.Act(ctx, env, "checkout", rollout.KindResume, "alice", "back"); err != nil {
		t.Fatal(err)
	}
	resumed := w.clock.Now()
	w.clock.Add(10 * time.Minute)
	w.tick()
	st := w.status()
	if st.Held == nil {
		t.Fatalf("status %+v: want held", st.Rollout)
	}
	if st.Held.Since.Before(resumed) {
		t.Errorf("held since %s, inside the pause from %s to %s; want since the resume", st.Held.Since.Format(time.TimeOnly), paused.Format(time.TimeOnly), resumed.Format(time.TimeOnly))
	}
}
