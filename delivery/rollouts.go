package delivery

import (
	"context"
	"time"

	"github.com/valueloop/valueloop/rollout"
)

// RolloutHistory is what the loop figures read of the rollout store.
type RolloutHistory interface {
	// RolloutsReached lists the rollouts of flag in env, newest first,
	// each with when it first served 100% of users (see RolloutReach), in
	// one query.
	RolloutsReached(ctx context.Context, env, flag string) ([]RolloutReach, error)
}

// RolloutReach is a rollout and when it first served 100% of users: the
// first entry of its history at 100% that did not roll it back; zero when
// it never did.
type RolloutReach struct {
	Rollout rollout.Rollout
	FullAt  time.Time
}

// RolloutTimesFrom returns the reader of Service.Rollouts over a rollout
// store.
func RolloutTimesFrom(h RolloutHistory) func(ctx context.Context, env, flag string) (RolloutTimes, error) {
	return func(ctx context.Context, env, flag string) (RolloutTimes, error) {
		list, err := h.RolloutsReached(ctx, env, flag)
		if err != nil {
			return RolloutTimes{}, err
		}
		return rolloutTimes(list), nil
	}
}

// rolloutTimes finds when a flag's rollout started and first served 100%
// of users: the earliest rollout that got there, or else the latest one.
// list is newest first.
func rolloutTimes(list []RolloutReach) RolloutTimes {
	if len(list) == 0 {
		return RolloutTimes{}
	}
	for i := len(list) - 1; i >= 0; i-- { // oldest first
		if r := list[i]; !r.FullAt.IsZero() {
			return RolloutTimes{StartedAt: r.Rollout.StartedAt, FullAt: r.FullAt, Percent: r.Rollout.Percent, State: string(r.Rollout.State)}
		}
	}
	r := list[0].Rollout
	return RolloutTimes{StartedAt: r.StartedAt, Percent: r.Percent, State: string(r.State)}
}
