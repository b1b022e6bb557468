package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/rollout"
)

// testRolloutsReached: the one-query read of a flag's rollouts and when
// each first served everyone gives the loop figures what reading each
// rollout's history did (the oracle below, the former implementation),
// including the traps: 100% reached only by the entry that rolled a
// rollout back, and a later rollout that has not got there.
func testRolloutsReached(t *testing.T, st Store, _ *Clock) {
	s := kept[interface {
		RolloutStore
		delivery.RolloutHistory
	}](t, st, "the store keeps no rollouts")
	ctx := context.Background()
	if err := s.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	start := func(flag string, h int) *rollout.Rollout {
		r := rollout.Start("prod", rolloutPlan(flag), "alice", at(h), 0)
		if err := s.CreateRollout(ctx, &r, &rollout.Event{At: at(h), Kind: rollout.KindStart, Actor: "alice", Percent: 5, State: rollout.Running}); err != nil {
			t.Fatal(err)
		}
		return &r
	}
	step := func(r *rollout.Rollout, h int, state rollout.State, percent float64) {
		r.State, r.Percent, r.UpdatedAt = state, percent, at(h)
		if err := s.UpdateRollout(ctx, r, &rollout.Event{At: at(h), Kind: rollout.KindAdvance, Actor: "alice", Percent: percent, State: state}); err != nil {
			t.Fatal(err)
		}
	}
	trap := start("cart", 0)
	step(trap, 2, rollout.RolledBack, 100)
	full := start("cart", 20)
	step(full, 30, rollout.Running, 100)
	step(full, 40, rollout.Completed, 100)
	start("cart", 50)
	start("lone", 5)

	want := map[string]delivery.RolloutTimes{
		"cart": {StartedAt: at(20), FullAt: at(30), Percent: 100, State: "completed"},
		"lone": {StartedAt: at(5), Percent: 5, State: "running"},
		"none": {},
	}
	read := delivery.RolloutTimesFrom(s)
	for flag, w := range want {
		got, err := read(ctx, "prod", flag)
		if err != nil {
			t.Fatal(err)
		}
		oracle := rolloutTimesOneByOne(ctx, t, s, "prod", flag)
		if !sameTimes(got, w) || !sameTimes(got, oracle) {
			t.Errorf("%s: got %+v\nwant %+v\nread one by one %+v", flag, got, w, oracle)
		}
	}
	list, err := s.RolloutsReached(ctx, "prod", "cart")
	if err != nil || len(list) != 3 || list[0].Rollout.StartedAt != at(50) || !list[0].FullAt.IsZero() ||
		!list[1].FullAt.Equal(at(30)) || !list[2].FullAt.IsZero() {
		t.Errorf("RolloutsReached(cart) = %+v, %v; want newest first, only the second at 100%% (at %s)", list, err, at(30))
	}
}

// rolloutTimesOneByOne is how the loop figures read a flag's rollouts
// before RolloutsReached: each rollout's history in turn, oldest first.
func rolloutTimesOneByOne(ctx context.Context, t *testing.T, s RolloutStore, env, flag string) delivery.RolloutTimes {
	t.Helper()
	list, err := s.Rollouts(ctx, rollout.Filter{Environment: env, Flag: flag, Limit: 1000})
	if err != nil || len(list) == 0 {
		return delivery.RolloutTimes{}
	}
	for i := len(list) - 1; i >= 0; i-- {
		r := list[i]
		events, err := s.RolloutEvents(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			if ev.Percent >= 100 && ev.State != rollout.RolledBack {
				return delivery.RolloutTimes{StartedAt: r.StartedAt, FullAt: ev.At, Percent: r.Percent, State: string(r.State)}
			}
		}
	}
	r := list[0]
	return delivery.RolloutTimes{StartedAt: r.StartedAt, Percent: r.Percent, State: string(r.State)}
}

func sameTimes(a, b delivery.RolloutTimes) bool {
	return a.StartedAt.Equal(b.StartedAt) && a.FullAt.Equal(b.FullAt) && a.Percent == b.Percent && a.State == b.State
}
