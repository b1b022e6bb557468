package storetest

import (
	"context"
	"testing"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/value"
)

// testValueChanges: ValueChanges answers the features written or whose
// lifecycle changed above a version, with their lifecycles, the version
// and how many features there are; a write that changes nothing moves
// nothing.
func testValueChanges(t *testing.T, st Store, clock *Clock) {
	s := kept[interface {
		ValueStore
		features.ChangesReader
	}](t, st, "the store cannot tell what changed")
	ctx := context.Background()
	horizon, _ := value.ParseDate("2027-03-31")
	o := value.Objective{Key: "o", Title: "O", Metric: "m", Target: value.Target{Direction: experiment.Increase, Value: 0.1}, Horizon: horizon}
	if err := s.PutObjective(ctx, &o, "ana"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"b", "a"} {
		if err := s.PutFeature(ctx, &value.Feature{Key: k, Title: k, Objective: "o", Hypothesis: value.Hypothesis{Change: k}}, "ana"); err != nil {
			t.Fatal(err)
		}
	}
	keys := func(ch *features.Changes) string {
		out := ""
		for i, f := range ch.Features {
			out += f.Key + ":" + string(ch.Lifecycles[i].Stage) + " "
		}
		return out
	}
	all, err := s.ValueChanges(ctx, -1)
	if err != nil || keys(all) != "a: b: " || all.Count != 2 || len(all.Objectives) != 1 {
		t.Fatalf("everything: %q, %d features, %d objectives, %v; want a and b never synced", keys(all), all.Count, len(all.Objectives), err)
	}
	a := value.Feature{Key: "a", Title: "A", Objective: "o", Hypothesis: value.Hypothesis{Change: "a"}}
	if err := s.PutFeature(ctx, &a, "ana"); err != nil {
		t.Fatal(err)
	}
	ch, err := s.ValueChanges(ctx, all.Version)
	if err != nil || keys(ch) != "a: " || ch.Features[0].Title != "A" || ch.Version <= all.Version || ch.Count != 2 {
		t.Errorf("after a's title: %q (version %d after %d), %v; want a alone", keys(ch), ch.Version, all.Version, err)
	}
	l := value.Derive([]value.Event{{ID: "c", Kind: value.Created, At: clock.T}, {ID: "x", Kind: value.CommitPushed, At: clock.T}}, nil)
	if _, err := s.SaveLifecycle(ctx, "b", &l); err != nil {
		t.Fatal(err)
	}
	next, err := s.ValueChanges(ctx, ch.Version)
	if err != nil || keys(next) != "b:building " {
		t.Errorf("after b's lifecycle: %q, %v; want b building", keys(next), err)
	}
	if _, err := s.SaveLifecycle(ctx, "b", &l); err != nil { // the same: nothing changes
		t.Fatal(err)
	}
	if none, err := s.ValueChanges(ctx, next.Version); err != nil || len(none.Features) != 0 || none.Version != next.Version {
		t.Errorf("after nothing changed: %q (version %d, was %d), %v", keys(none), none.Version, next.Version, err)
	}
	if err := s.DeleteFeature(ctx, "a", "ana"); err != nil {
		t.Fatal(err)
	}
	if del, err := s.ValueChanges(ctx, next.Version); err != nil || len(del.Features) != 0 || del.Count != 1 || del.Version <= next.Version {
		t.Errorf("after a deletion: %q, %d features, %v; want none changed, one left", keys(del), del.Count, err)
	}
}
