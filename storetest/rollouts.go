package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
)

// RolloutStore keeps rollouts. A store that implements it runs the
// Rollouts case of the contract.
type RolloutStore interface {
	Store
	rollout.Store
}

func rolloutPlan(flag string) rollout.Plan {
	return rollout.Plan{
		Flag: flag, Variant: "new", Baseline: "old",
		Steps:      []rollout.Step{{Percent: 5, MinDuration: rollout.Duration(time.Hour)}, {Percent: 100}},
		Guardrails: []rollout.Guardrail{{Metric: "errors", Direction: metric.LowerIsBetter, Tolerance: 0.02}},
		OnBreach:   rollout.RollbackOnBreach, Alpha: 0.05, MinSample: 100, SequentialTuning: 10000,
	}
}

func testRollouts(t *testing.T, st Store, _ *Clock) {
	s := kept[RolloutStore](t, st, "the store keeps no rollouts")
	Rollouts(t, s, nil)
}

// Rollouts is the Rollouts case of the contract on s. When reopen is not
// nil it is called after the writes, to close the store and open it again on
// the same data, and the reads that follow check what survived.
func Rollouts(t *testing.T, s RolloutStore, reopen func() RolloutStore) {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	r := rollout.Start("prod", rolloutPlan("checkout"), "alice", now, 7)
	r.FlagVersion = 3
	ev := rollout.Event{At: now, Kind: rollout.KindStart, Actor: "alice", Percent: 5, State: rollout.Running, Reason: "go"}
	if err := s.CreateRollout(ctx, &r, &ev); err != nil {
		t.Fatal(err)
	}
	if r.ID == 0 || r.Version != 1 || ev.ID == 0 || ev.Rollout != r.ID {
		t.Fatalf("after create: id %d version %d event %+v", r.ID, r.Version, ev)
	}
	again := rollout.Start("prod", rolloutPlan("checkout"), "bob", now, 0)
	if err := s.CreateRollout(ctx, &again, &rollout.Event{At: now, Kind: rollout.KindStart, Actor: "bob"}); valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("second active rollout: got %v, want a conflict", err)
	}
	other := rollout.Start("prod", rolloutPlan("search"), "bob", now, 0)
	if err := s.CreateRollout(ctx, &other, &rollout.Event{At: now, Kind: rollout.KindStart, Actor: "bob"}); err != nil {
		t.Errorf("rollout of another flag: %v", err)
	}
	nowhere := rollout.Start("nowhere", rolloutPlan("checkout"), "bob", now, 0)
	if err := s.CreateRollout(ctx, &nowhere, &rollout.Event{At: now, Kind: rollout.KindStart, Actor: "bob"}); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("rollout in a missing environment: got %v, want not found", err)
	}

	figures := []rollout.GuardrailResult{{Metric: "errors", Status: rollout.GuardrailBreached, Change: 0.2, Reason: "errors rose"}}
	later := now.Add(90 * time.Minute)
	next, rb, err := r.Apply(rollout.KindRollback, later, 500, rollout.EngineActor, "errors rose", figures)
	if err != nil {
		t.Fatal(err)
	}
	stale := next
	if err := s.UpdateRollout(ctx, &next, &rb); err != nil {
		t.Fatal(err)
	}
	if next.Version != 2 {
		t.Errorf("version after update = %d, want 2", next.Version)
	}
	if err := s.UpdateRollout(ctx, &stale, nil); valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("update from a stale version: got %v, want a conflict", err)
	}
	if reopen != nil {
		s = reopen()
	}
	got, err := s.Rollouts(ctx, rollout.Filter{Environment: "prod", Flag: "checkout"})
	if err != nil || len(got) != 1 {
		t.Fatalf("Rollouts(checkout) = %+v, %v; want one", got, err)
	}
	if !reflect.DeepEqual(got[0], next) {
		t.Errorf("stored rollout:\n got %+v\nwant %+v", got[0], next)
	}
	active, err := s.Rollouts(ctx, rollout.Filter{Active: true})
	if err != nil || len(active) != 1 || active[0].Plan.Flag != "search" {
		t.Errorf("active rollouts = %+v, %v; want only search", active, err)
	}
	if back, err := s.Rollouts(ctx, rollout.Filter{State: rollout.RolledBack}); err != nil || len(back) != 1 || back[0].ID != r.ID {
		t.Errorf("rolled-back rollouts = %+v, %v; want only %d", back, err, r.ID)
	}
	// A rollback's flag write is pending until the engine clears the
	// mark; the engine finds every rollout so marked.
	if pending, err := s.Rollouts(ctx, rollout.Filter{FlagPending: true}); err != nil || len(pending) != 1 || pending[0].ID != r.ID {
		t.Errorf("rollouts with a flag write pending = %+v, %v; want only %d", pending, err, r.ID)
	}
	hist, err := s.RolloutEvents(ctx, r.ID)
	if err != nil || len(hist) != 2 {
		t.Fatalf("history = %+v, %v; want start and rollback", hist, err)
	}
	if hist[0].Kind != rollout.KindStart || hist[1].Kind != rollout.KindRollback || !hist[1].At.Equal(later) ||
		len(hist[1].Guardrails) != 1 || hist[1].Guardrails[0].Change != 0.2 || hist[1].State != rollout.RolledBack {
		t.Errorf("history = %+v", hist)
	}
	entries, err := s.Audit(ctx, valueloop.AuditFilter{Target: "checkout"})
	if err != nil || len(entries) != 2 || entries[0].Action != "rollout.rollback" || entries[0].Reason != "errors rose" ||
		entries[0].Actor != rollout.EngineActor || entries[1].Action != "rollout.start" {
		t.Errorf("audit = %+v, %v", entries, err)
	}
	// Audited at the times of the history, not the store's clock: a start
	// dated in the past (serve --demo's) was audited now, and the audit
	// trail disagreed with the rollout's page.
	if len(entries) == 2 && (!entries[0].At.Equal(later) || !entries[1].At.Equal(now)) {
		t.Errorf("audited at %s and %s, want the history's %s and %s", entries[1].At, entries[0].At, now, later)
	}
	third := rollout.Start("prod", rolloutPlan("checkout"), "carol", later, 0)
	if err := s.CreateRollout(ctx, &third, &rollout.Event{At: later, Kind: rollout.KindStart, Actor: "carol"}); err != nil {
		t.Errorf("new rollout after a rollback: %v", err)
	}
	if got, _ := s.Rollouts(ctx, rollout.Filter{Environment: "prod", Flag: "checkout", Limit: 1}); len(got) != 1 || got[0].ID != third.ID {
		t.Errorf("newest rollout of checkout = %+v, want %d", got, third.ID)
	}
	// The next page starts before the last ID of the one before, as the
	// audit trail's: older rollouts than the newest thousand are listed.
	if got, _ := s.Rollouts(ctx, rollout.Filter{Environment: "prod", Flag: "checkout", Limit: 1, BeforeID: third.ID}); len(got) != 1 || got[0].ID != r.ID {
		t.Errorf("rollouts of checkout before %d = %+v, want %d", third.ID, got, r.ID)
	}
	if got, _ := s.Rollouts(ctx, rollout.Filter{Environment: "prod", Flag: "checkout", BeforeID: r.ID}); len(got) != 0 {
		t.Errorf("rollouts of checkout before the first = %+v, want none", got)
	}
	done := got[0]
	done.FlagPending = false
	if err := s.UpdateRollout(ctx, &done, nil); err != nil {
		t.Fatal(err)
	}
	if pending, err := s.Rollouts(ctx, rollout.Filter{FlagPending: true}); err != nil || len(pending) != 0 {
		t.Errorf("rollouts with a flag write pending once cleared = %+v, %v; want none", pending, err)
	}
}
