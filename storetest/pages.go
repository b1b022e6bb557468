package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/rollout"
)

// testAuditPages: a page by number of the audit trail is read alone
// (Offset and Limit), and its number of pages from a count that stops at
// its bound. The dashboard read the latest 20 changes of a flag and no
// others.
func testAuditPages(t *testing.T, s Store, _ *Clock) {
	ctx := context.Background()
	if err := s.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "Prod"}, "root"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 { // each a change: the same flag again is none
		for _, key := range []string{"a", "b"} {
			f := &valueloop.Flag{Key: key, State: valueloop.StateEnabled, Variants: map[string]any{"on": true, "off": false}, DefaultVariant: strp([]string{"off", "on"}[i%2])}
			if _, _, err := s.PutFlag(ctx, "prod", f, -1, "alice", fmt.Sprintf("change %d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	f := valueloop.AuditFilter{Environment: "prod", Target: "a"}
	all, err := s.Audit(ctx, f)
	if err != nil || len(all) != 5 {
		t.Fatalf("audit of a = %d entries, %v; want 5", len(all), err)
	}
	for _, tc := range []struct{ offset, limit, from, to int }{{0, 2, 0, 2}, {2, 2, 2, 4}, {4, 2, 4, 5}, {5, 2, 5, 5}, {-1, 2, 0, 2}} {
		f.Offset, f.Limit = tc.offset, tc.limit
		got, err := s.Audit(ctx, f)
		if err != nil || !slices.Equal(auditIDs(got), auditIDs(all[tc.from:tc.to])) {
			t.Errorf("audit of a, offset %d limit %d = %v, %v; want %v", tc.offset, tc.limit, auditIDs(got), err, auditIDs(all[tc.from:tc.to]))
		}
	}
	for upTo, want := range map[int]int{100: 5, 5: 5, 3: 3, 0: 0} {
		if n, err := s.CountAudit(ctx, valueloop.AuditFilter{Environment: "prod", Target: "a", Offset: 4, Limit: 1}, upTo); err != nil || n != want {
			t.Errorf("CountAudit(a, up to %d) = %d, %v; want %d", upTo, n, err, want)
		}
	}
	if n, err := s.CountAudit(ctx, valueloop.AuditFilter{Environment: "prod", Target: "a", BeforeID: all[1].ID}, 100); err != nil || n != 3 {
		t.Errorf("CountAudit(a before the second newest) = %d, %v; want 3", n, err)
	}
}

func auditIDs(es []valueloop.AuditEntry) []int64 {
	return idsOf(es, func(e valueloop.AuditEntry) int64 { return e.ID })
}

// idsOf are the ids of items, in their order ([] for none).
func idsOf[T any](items []T, id func(T) int64) []int64 {
	out := []int64{}
	for _, x := range items {
		out = append(out, id(x))
	}
	return out
}

// testRolloutPages: the finished rollouts of some environments are read a
// page at a time, newest first, and counted up to a bound; the dashboard
// read the latest 50 of each environment and kept the finished among them.
func testRolloutPages(t *testing.T, st Store, _ *Clock) {
	s := kept[RolloutStore](t, st, "the store keeps no rollouts")
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var finished []int64 // newest first, of prod and stage
	for i, env := range []string{"prod", "stage", "dev", "prod", "stage", "prod"} {
		if i < 3 {
			if err := s.CreateEnvironment(ctx, valueloop.Environment{Key: env, Name: env}, "t"); err != nil {
				t.Fatal(err)
			}
		}
		r := rollout.Start(env, rolloutPlan(fmt.Sprintf("f%d", i)), "alice", now, 0)
		if err := s.CreateRollout(ctx, &r, &rollout.Event{At: now, Kind: rollout.KindStart, Actor: "alice"}); err != nil {
			t.Fatal(err)
		}
		if i == 4 {
			continue // under way
		}
		next, ev, err := r.Apply(rollout.KindRollback, now.Add(time.Hour), 100, "alice", "done", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateRollout(ctx, &next, &ev); err != nil {
			t.Fatal(err)
		}
		if env != "dev" {
			finished = append([]int64{r.ID}, finished...)
		}
	}
	f := rollout.Filter{Environments: []string{"prod", "stage"}, Finished: true}
	for _, tc := range []struct{ offset, limit, from, to int }{{0, 100, 0, 4}, {0, 2, 0, 2}, {2, 2, 2, 4}, {3, 2, 3, 4}, {4, 2, 4, 4}} {
		f.Offset, f.Limit = tc.offset, tc.limit
		got, err := s.Rollouts(ctx, f)
		if ids := rolloutIDs(got); err != nil || !slices.Equal(ids, finished[tc.from:tc.to]) {
			t.Errorf("finished rollouts of prod and stage, offset %d limit %d = %v, %v; want %v", tc.offset, tc.limit, ids, err, finished[tc.from:tc.to])
		}
	}
	for upTo, want := range map[int]int{100: 4, 3: 3} {
		if n, err := s.CountRollouts(ctx, f, upTo); err != nil || n != want {
			t.Errorf("CountRollouts(finished of prod and stage, up to %d) = %d, %v; want %d", upTo, n, err, want)
		}
	}
	if n, err := s.CountRollouts(ctx, rollout.Filter{Environments: []string{"stage"}, Active: true}, 100); err != nil || n != 1 {
		t.Errorf("CountRollouts(under way in stage) = %d, %v; want 1", n, err)
	}
}

func rolloutIDs(rs []rollout.Rollout) []int64 {
	return idsOf(rs, func(r rollout.Rollout) int64 { return r.ID })
}
