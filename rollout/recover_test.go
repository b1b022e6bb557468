package rollout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
)

// TestRollbackFinishedAfterACrash: a rollback is stored before the flag is
// written, as every transition is. A crash (kill -9) between the two left
// the rollout rolled back and the flag serving the variant for good: the
// ticks look at active rollouts only, and a rolled-back one is not. The
// next tick must write the baseline, as it finishes an advance's write.
func TestRollbackFinishedAfterACrash(t *testing.T) {
	w := newWorld(t, 11)
	w.start(checkoutPlan(20, 100))
	crashedRollback(t, w)
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
	// Nor is the split a later rollout took over, started before the
	// first tick after the restart.
	w.start(checkoutPlan(50, 100))
	crashedRollback(t, w)
	w.restart()
	w.start(checkoutPlan(50, 100))
	w.tick()
	if st := w.status(); st.State != rollout.Running || st.LivePercent == nil || *st.LivePercent != 50 {
		t.Errorf("a rollout started on the split a crashed rollback left: %s, flag at %s; want running at 50%%", st.State, livePercent(st))
	}
}

// crashedRollback stores the rollback of the world's active rollout as
// the engine does, and crashes before the engine writes the flag.
func crashedRollback(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	rs, err := w.engine.List(ctx, rollout.Filter{Environment: env, Flag: "checkout", Active: true, Limit: 1})
	if err != nil || len(rs) != 1 {
		t.Fatalf("active rollouts: %v, %v", rs, err)
	}
	next, ev, err := rs[0].Apply(rollout.KindRollback, w.clock.Now(), 0, rollout.EngineActor, "guardrail error-rate rose", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.db.UpdateRollout(ctx, &next, &ev); err != nil {
		t.Fatal(err)
	}
}

// livePercent writes a status's LivePercent, nil as "no split".
func livePercent(st *rollout.Status) string {
	if st.LivePercent == nil {
		return "no split"
	}
	return fmt.Sprintf("%v%%", *st.LivePercent)
}

// editFirst is the engine's flags, on which someone edits the flag just
// before the engine's first write lands (between its read and its write).
type editFirst struct {
	*flags.Service
	edit func()
	done bool
}

func (e *editFirst) PutFlag(ctx context.Context, env string, f *valueloop.Flag, ifVersion int64, actor, reason string) (int64, error) {
	if !e.done {
		e.done = true
		e.edit()
	}
	return e.Service.PutFlag(ctx, env, f, ifVersion, actor, reason)
}

// TestRollbackWinsARaceWithAnEdit: an edit of the flag that lands between
// the rollback's read of the flag and its write made the write fail its
// version check: the rollout was stored rolled back, the answer was an
// error, and the flag went on serving the variant (at the edited split)
// with nothing to retry it. A rollback sends everyone to the baseline
// whatever the flag was changed to a moment before.
func TestRollbackWinsARaceWithAnEdit(t *testing.T) {
	w := newWorld(t, 12)
	ctx := context.Background()
	w.start(checkoutPlan(20, 100))
	w.engine.Flags = &editFirst{Service: w.flags, edit: w.halfByHand}
	st, err := w.api.RolloutAction(ctx, env, "checkout", rollout.KindRollback, "errors in the logs")
	if err != nil {
		t.Fatalf("rollback racing an edit: %v", err)
	}
	if st.State != rollout.RolledBack || st.LivePercent == nil || *st.LivePercent != 0 {
		t.Fatalf("after the rollback: %s, flag at %s; want rolled back with the flag at 0%%", st.State, livePercent(st))
	}
	if got := w.split(); got != 0 {
		t.Errorf("%.1f%% of new users get one-page after the rollback, want 0", got)
	}
}

// TestRefusedResumeChangesNothing: resuming or advancing a rollout whose
// flag was deleted, or whose targeting someone replaced with one holding
// no split to drive, is refused (409, with the reason) before anything is
// stored, as resuming one whose flag is disabled is. A resume recorded and
// announced itself, failed to write the flag, recorded and announced a
// pause again and answered 404 or 400; an advance was recorded at the
// next step.
func TestRefusedResumeChangesNothing(t *testing.T) {
	cases := []struct {
		name, want string
		change     func(w *world, f valueloop.Flag) error
	}{
		{"deleted flag", "no longer exists", (*world).deleteFlag},
		{"targeting without a split", "no `fractional` split", func(w *world, f valueloop.Flag) error {
			f.Targeting = json.RawMessage(`{"if":[{"ends_with":[{"var":"email"},"@valueloop.dev"]},"one-page","classic"]}`)
			_, err := w.flags.PutFlag(context.Background(), env, &f, f.Version, "someone", "staff only")
			return err
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, uint64(13+i))
			w.start(checkoutPlan(10, 100))
			if err := c.change(w, *w.flags.Live(env).Snapshot.Set().Flags["checkout"]); err != nil {
				t.Fatal(err)
			}
			w.tick()
			before, notes := len(w.status().History), len(w.notifications())
			for _, k := range []rollout.Kind{rollout.KindResume, rollout.KindAdvance} {
				_, err := w.api.RolloutAction(context.Background(), env, "checkout", k, "")
				if valueloop.ErrorCode(err) != valueloop.ECONFLICT || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: %v, want a conflict saying %q", k, err, c.want)
				}
			}
			st := w.status()
			if len(st.History) != before || len(w.notifications()) != notes || st.State != rollout.Paused {
				t.Errorf("the refused actions left %s with %d history entries and %d notifications, want paused with %d and %d",
					st.State, len(st.History), len(w.notifications()), before, notes)
			}
		})
	}
}

// deleteFlag deletes the world's flag, f as last read, as someone would.
func (w *world) deleteFlag(f valueloop.Flag) error {
	return w.flags.DeleteFlag(context.Background(), env, "checkout", f.Version, "someone", "not needed")
}

// editOnRead is the engine's data, on which someone edits the flag while
// the engine reads the figures (after it checked the flag, before it
// writes a step).
type editOnRead struct {
	rollout.Data
	edit func()
}

func (d *editOnRead) Aggregates(ctx context.Context, env, flag string) ([]metric.Aggregate, error) {
	if d.edit != nil {
		d.edit()
		d.edit = nil
	}
	return d.Data.Aggregates(ctx, env, flag)
}

// TestStepDoesNotOverwriteAnEdit: an edit of the split made after a tick
// found the flag as the rollout left it was overwritten by the step the
// tick decided: the step's write re-read the flag and wrote over the fresh
// version, so its version check caught nothing. The window is the tick's
// read of the figures on one node, and on several the up to 5 s a peer's
// edit takes to reach the leader. The engine leaves the edit in place and
// pauses, as it does for an edit it finds.
func TestStepDoesNotOverwriteAnEdit(t *testing.T) {
	t.Run("while the figures are read", func(t *testing.T) {
		w := newWorld(t, 15)
		w.start(checkoutPlan(10, 20, 100))
		w.clock.Add(25 * time.Hour)
		w.engine.Data = &editOnRead{Data: w.db, edit: w.halfByHand}
		w.tick()
		w.tick()
		stepKeptTheEdit(t, w)
	})
	t.Run("on a lagging node", func(t *testing.T) {
		w := newWorld(t, 16)
		w.start(checkoutPlan(10, 20, 100))
		_, leader := w.peer() // sees no write of the world's node
		w.clock.Add(25 * time.Hour)
		w.halfByHand()
		_ = leader.Tick(context.Background()) // the pause is reported as the error that caused it
		stepKeptTheEdit(t, w)
	})
}

// stepKeptTheEdit checks that the world's flag kept the split set by hand
// and its rollout is paused.
func stepKeptTheEdit(t *testing.T, w *world) {
	t.Helper()
	if err := w.flags.Load(context.Background()); err != nil { // a peer's writes
		t.Fatal(err)
	}
	st := w.status()
	if got := w.split(); got < 40 {
		t.Errorf("the step overwrote the split set by hand: %.1f%% one-page, want about 50 (rollout %s at %v%%)", got, st.State, st.Percent)
	}
	if st.State != rollout.Paused || !strings.Contains(st.Reason, "changed outside the rollout") {
		t.Errorf("after the edit: %s, %q; want paused, saying the flag was changed outside the rollout", st.State, st.Reason)
	}
}
