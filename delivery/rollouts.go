package delivery

import (
	"context"

	"github.com/valueloop/valueloop/rollout"
)

// RolloutHistory is what the loop figures read of the rollout store.
type RolloutHistory interface {
	Rollouts(ctx context.Context, f rollout.Filter) ([]rollout.Rollout, error)
	RolloutEvents(ctx context.Context, id int64) ([]rollout.Event, error)
}

// RolloutTimesFrom returns the reader of Service.Rollouts over a rollout
// store.
func RolloutTimesFrom(h RolloutHistory) func(ctx context.Context, env, flag string) (RolloutTimes, error) {
	return func(ctx context.Context, env, flag string) (RolloutTimes, error) {
		return rolloutTimes(ctx, h, env, flag)
	}
}

// rolloutTimes finds when a flag's rollout started and first served 100%
// of users: the earliest rollout that got there, or else the latest one.
//
// It reads the history of one rollout after another, oldest first, and
// stops at the first that reached 100%: a flag has a handful of rollouts,
// and the stores have no query for the histories of all of a flag's
// rollouts at once.
func rolloutTimes(ctx context.Context, h RolloutHistory, env, flag string) (RolloutTimes, error) {
	list, err := h.Rollouts(ctx, rollout.Filter{Environment: env, Flag: flag, Limit: 1000})
	if err != nil || len(list) == 0 {
		return RolloutTimes{}, err
	}
	for i := len(list) - 1; i >= 0; i-- { // oldest first
		r := list[i]
		events, err := h.RolloutEvents(ctx, r.ID)
		if err != nil {
			return RolloutTimes{}, err
		}
		for _, ev := range events {
			if ev.Percent >= 100 && ev.State != rollout.RolledBack {
				return RolloutTimes{StartedAt: r.StartedAt, FullAt: ev.At, Percent: r.Percent, State: string(r.State)}, nil
			}
		}
	}
	r := list[0]
	return RolloutTimes{StartedAt: r.StartedAt, Percent: r.Percent, State: string(r.State)}, nil
}
