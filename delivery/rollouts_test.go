package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/rollout"
)

// rolloutFake is a rollout store of a few rollouts, newest first as the
// stores list them.
type rolloutFake struct {
	list   []rollout.Rollout
	events map[int64][]rollout.Event
}

// RolloutsReached finds each rollout's first entry at 100% that did not
// roll it back, as the stores do in SQL (storetest checks them against
// reading each rollout's history).
func (f *rolloutFake) RolloutsReached(_ context.Context, env, flag string) ([]delivery.RolloutReach, error) {
	var out []delivery.RolloutReach
	for _, r := range f.list {
		if r.Environment != env || r.Plan.Flag != flag {
			continue
		}
		reach := delivery.RolloutReach{Rollout: r}
		for _, ev := range f.events[r.ID] {
			if ev.Percent >= 100 && ev.State != rollout.RolledBack {
				reach.FullAt = ev.At
				break
			}
		}
		out = append(out, reach)
	}
	return out, nil
}

func TestRolloutTimes(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	ro := func(id int64, flag string, started int, state rollout.State, pct float64) rollout.Rollout {
		return rollout.Rollout{ID: id, Environment: "production", Plan: rollout.Plan{Flag: flag}, StartedAt: at(started), State: state, Percent: pct}
	}
	f := &rolloutFake{
		list: []rollout.Rollout{ // newest first
			ro(3, "checkout", 50, rollout.Running, 25),
			ro(2, "checkout", 20, rollout.Completed, 100),
			ro(1, "checkout", 0, rollout.RolledBack, 0),
			ro(4, "search", 5, rollout.Running, 5),
		},
		events: map[int64][]rollout.Event{
			// Reached 100% only in the event that rolled it back: not full.
			1: {{At: at(1), Percent: 5, State: rollout.Running}, {At: at(2), Percent: 100, State: rollout.RolledBack}},
			2: {{At: at(20), Percent: 10, State: rollout.Running}, {At: at(30), Percent: 100, State: rollout.Running}, {At: at(40), Percent: 100, State: rollout.Completed}},
			3: {{At: at(50), Percent: 25, State: rollout.Running}},
			4: {{At: at(5), Percent: 5, State: rollout.Running}},
		},
	}
	read := delivery.RolloutTimesFrom(f)
	cases := []struct {
		flag string
		want delivery.RolloutTimes
	}{
		{"checkout", delivery.RolloutTimes{StartedAt: at(20), FullAt: at(30), Percent: 100, State: "completed"}},
		{"search", delivery.RolloutTimes{StartedAt: at(5), Percent: 5, State: "running"}},
		{"none", delivery.RolloutTimes{}},
	}
	for _, c := range cases {
		got, err := read(context.Background(), "production", c.flag)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: got %+v\nwant %+v", c.flag, got, c.want)
		}
	}
}
