package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/rollout"
)

// testRolloutIfEnabled: UpdateRolloutIfEnabled stores a transition only
// while the rollout's flag exists and is enabled, read in the write's
// transaction: a disabled or deleted flag stores nothing (the version, the
// history and the audit trail stay as they were). A disable asked while
// the write holds its check waits for the write: it cannot commit between
// the check and the write, which would step a rollout of a disabled flag.
func testRolloutIfEnabled(t *testing.T, st Store, clock *Clock) {
	s := kept[RolloutStore](t, st, "the store keeps no rollouts")
	ctx := context.Background()
	if err := s.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	old := "old"
	f := &valueloop.Flag{Key: "checkout", State: valueloop.StateEnabled, Variants: map[string]any{"old": "old", "new": "new"}, DefaultVariant: &old}
	if _, _, err := s.PutFlag(ctx, "prod", f, 0, "t", ""); err != nil {
		t.Fatal(err)
	}
	now := clock.T
	r := rollout.Start("prod", rolloutPlan("checkout"), "alice", now, 0)
	if err := s.CreateRollout(ctx, &r, &rollout.Event{At: now, Kind: rollout.KindStart, Actor: "alice", Percent: 5, State: rollout.Running}); err != nil {
		t.Fatal(err)
	}
	step := func(r rollout.Rollout, at time.Time) (rollout.Rollout, bool, error) {
		t.Helper()
		next, ev, err := r.Apply(rollout.KindAdvance, at, 0, "alice", "looks good", nil)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := s.UpdateRolloutIfEnabled(ctx, &next, &ev)
		return next, ok, err
	}

	// While the write holds its check, a disable is asked: it commits
	// after the write, whatever the order the two were asked in.
	disabled := make(chan error, 1)
	clock.PauseNext(func() { // the audit's time, the write's last step
		off := *f
		off.State = valueloop.StateDisabled
		go func() {
			_, _, err := s.PutFlag(ctx, "prod", &off, -1, "on-call", "kill switch")
			disabled <- err
		}()
		select { // the disable, if nothing holds it off, or a moment of it
		case err := <-disabled:
			disabled <- err
		case <-time.After(200 * time.Millisecond):
		}
	})
	stepped, ok, err := step(r, time.Time{})
	if err != nil || !ok {
		t.Fatalf("advance of a rollout of an enabled flag: stored %v, %v; want stored", ok, err)
	}
	if err := <-disabled; err != nil {
		t.Fatal(err)
	}
	entries, err := s.Audit(ctx, valueloop.AuditFilter{Target: "checkout"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if len(actions) < 2 || actions[0] != "flag.update" || actions[1] != "rollout.advance" {
		t.Errorf("audit, newest first: %v; want the disable (flag.update) after the advance it raced", actions)
	}

	// The flag is disabled now: nothing is stored.
	versions := func() (int64, int) {
		t.Helper()
		rs, err := s.Rollouts(ctx, rollout.Filter{Environment: "prod", Flag: "checkout"})
		if err != nil || len(rs) != 1 {
			t.Fatalf("rollouts: %+v, %v", rs, err)
		}
		hist, err := s.RolloutEvents(ctx, rs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		return rs[0].Version, len(hist)
	}
	audited := func() int {
		t.Helper()
		entries, err := s.Audit(ctx, valueloop.AuditFilter{Target: "checkout"})
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	version, history := versions()
	trail := audited()
	if _, ok, err := step(stepped, now); err != nil || ok {
		t.Errorf("advance of a rollout of a disabled flag: stored %v, %v; want not stored", ok, err)
	}
	if _, err := s.DeleteFlag(ctx, "prod", "checkout", -1, "t", ""); err != nil {
		t.Fatal(err)
	}
	trail++ // the delete
	if _, ok, err := step(stepped, now); err != nil || ok {
		t.Errorf("advance of a rollout of a deleted flag: stored %v, %v; want not stored", ok, err)
	}
	if v, h := versions(); v != version || h != history || audited() != trail {
		t.Errorf("after the refused writes: version %d, %d history entries, %d audit entries; want %d, %d, %d", v, h, audited(), version, history, trail)
	}
}
