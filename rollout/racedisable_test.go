package rollout_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/sqlite"
)

// TestStepRacingDisable: an advance or a resume checks that the flag is
// enabled, reads the figures, then stores the transition and writes the
// split. A disable (the kill switch) landing between the check and the
// write let the step be stored, and its split written, for a disabled
// flag: the next tick paused it, and whoever enabled the flag again got a
// share nobody watched. The transition is stored only while the flag is
// enabled, read in the same transaction as the write: refused by hand
// (409 naming the disabled flag), skipped by the engine, and nothing
// changes, the rollout, its history or the flag's split.
func TestStepRacingDisable(t *testing.T) {
	ctx := context.Background()
	disable := func(w *world) func() { return func() { w.setState(w.flags, valueloop.StateDisabled) } }
	byHand := func(k rollout.Kind) func(t *testing.T, w *world) {
		return func(t *testing.T, w *world) {
			w.engine.Data = &editOnRead{Data: w.db, edit: disable(w)}
			_, err := w.api.RolloutAction(ctx, env, "checkout", k, "")
			if valueloop.ErrorCode(err) != valueloop.ECONFLICT || !strings.Contains(err.Error(), `flag "checkout" is disabled`) {
				t.Errorf("%s racing a disable: %v, want a conflict naming the disabled flag", k, err)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		paused bool // paused by hand before the race
		race   func(t *testing.T, w *world)
	}{
		{"advance by hand", false, byHand(rollout.KindAdvance)},
		{"resume by hand", true, byHand(rollout.KindResume)},
		{"advance by the engine", false, func(t *testing.T, w *world) {
			w.clock.Add(25 * time.Hour)
			w.engine.Store = &disableOnStep{DB: w.db, disable: disable(w)}
			w.tick()
		}},
		{"advance on a lagging node", false, func(t *testing.T, w *world) {
			_, peer := w.peer() // sees no write of the world's node
			disable(w)()
			_, err := peer.Act(ctx, env, "checkout", rollout.KindAdvance, "release-manager", "")
			if valueloop.ErrorCode(err) != valueloop.ECONFLICT || !strings.Contains(err.Error(), `flag "checkout" is disabled`) {
				t.Errorf("advance on a node that has not seen the disable: %v, want a conflict naming the disabled flag", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, 21)
			w.start(checkoutPlan(10, 50, 100))
			if tc.paused {
				if _, err := w.api.RolloutAction(ctx, env, "checkout", rollout.KindPause, "looking into a report"); err != nil {
					t.Fatal(err)
				}
			}
			before := w.status()
			tc.race(t, w)
			if err := w.flags.Load(ctx); err != nil { // a peer's writes
				t.Fatal(err)
			}
			after := w.status()
			if after.State != before.State || after.Step != before.Step || len(after.History) != len(before.History) {
				t.Errorf("after the race: %s at step %d with %d history entries, want %s at %d with %d (last: %+v)",
					after.State, after.Step, len(after.History), before.State, before.Step, len(before.History), after.History[len(after.History)-1])
			}
			if f := w.flags.Live(env).Snapshot.Set().Flags["checkout"]; f.State != valueloop.StateDisabled {
				t.Errorf("the flag is %s, want it left disabled", f.State)
			}
			if pct := after.LivePercent; pct == nil || *pct != 10 {
				t.Errorf("the flag's split after the race: %s, want 10%%", livePercent(after))
			}
			if !tc.paused {
				w.tick() // finds the flag disabled
				if st := w.status(); st.State != rollout.Paused || st.Percent != 10 || !strings.Contains(st.Reason, "disabled") {
					t.Errorf("the tick after: %s at %v%%, %q; want paused at 10%% naming the disabled flag", st.State, st.Percent, st.Reason)
				}
			}
		})
	}
}

// disableOnStep is the engine's store, on which someone disables the
// flag just before the engine stores its first advance: after the tick
// checked the flag, before the step is written.
type disableOnStep struct {
	*sqlite.DB
	disable func()
}

func (s *disableOnStep) hook(ev *rollout.Event) {
	if ev != nil && ev.Kind == rollout.KindAdvance && s.disable != nil {
		s.disable()
		s.disable = nil
	}
}

func (s *disableOnStep) UpdateRollout(ctx context.Context, r *rollout.Rollout, ev *rollout.Event) error {
	s.hook(ev)
	return s.DB.UpdateRollout(ctx, r, ev)
}

func (s *disableOnStep) UpdateRolloutIfEnabled(ctx context.Context, r *rollout.Rollout, ev *rollout.Event) (bool, error) {
	s.hook(ev)
	return s.DB.UpdateRolloutIfEnabled(ctx, r, ev)
}
