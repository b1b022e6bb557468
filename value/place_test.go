package value

import (
	"reflect"
	"testing"
)

// TestPlaceOf: a feature's place is next's own rank (the same Rank, its
// arithmetic included), or next's reason it is unranked, or neither past
// ready; its dependencies are those it waits for by next's rule (not done
// or decided, a missing one too, an abandoned one not), and its dependants
// are by key, with whether they wait for it.
func TestPlaceOf(t *testing.T) {
	items := []Item{
		feature("built", "retention", nil, 0.05, nil, ev("bc", CommitPushed, day(1))),
		feature("decided", "retention", nil, 0.05, nil, verdict("dv", Validated, day(2), 0.05)),
		feature("dropped", "retention", nil, 0.05, nil, moved("dm", Abandoned, day(2))),
		feature("top", "retention", wsjf(8, 1, 1, 2), 0.05, nil),
		feature("z-later", "retention", wsjf(1, 1, 1, 1), 0.05, nil),
		feature("a-later", "retention", nil, 0.05, nil),
	}
	items[3].Feature.DependsOn = []string{"built", "decided", "dropped", "gone"}
	items[4].Feature.DependsOn = []string{"top"}
	items[5].Feature.DependsOn = []string{"top"}
	n := ComputeNext(NextInput{Objectives: objectives(), Items: items})

	top := n.PlaceOf(items, "top")
	if top.Rank == nil || !reflect.DeepEqual(*top.Rank, n.Ranked[0]) || top.Of != 2 || top.Unranked != nil {
		t.Fatalf("top's place: %+v of %d, want next's first of 2: %+v", top.Rank, top.Of, n.Ranked[0])
	}
	wantDeps := []Neighbour{
		{Feature: "built", Title: "Feature built", Stage: Building, Blocks: true},
		{Feature: "decided", Title: "Feature decided", Stage: Validated},
		{Feature: "dropped", Title: "Feature dropped", Stage: Abandoned},
		{Feature: "gone", Blocks: true},
	}
	if !reflect.DeepEqual(top.DependsOn, wantDeps) {
		t.Errorf("top's dependencies:\n got %+v\nwant %+v", top.DependsOn, wantDeps)
	}
	if got, want := top.WaitsFor(), n.Ranked[0].WaitsFor; !reflect.DeepEqual(got, want) {
		t.Errorf("top waits for %v, next says %v", got, want)
	}
	wantDependants := []Neighbour{{Feature: "a-later", Title: "Feature a-later", Stage: Idea}, {Feature: "z-later", Title: "Feature z-later", Stage: Idea}}
	if !reflect.DeepEqual(top.Dependants, wantDependants) || !top.Blocking {
		t.Errorf("top's dependants: %+v blocking %v, want %+v blocking", top.Dependants, top.Blocking, wantDependants)
	}

	if p := n.PlaceOf(items, "a-later"); p.Rank != nil || p.Unranked == nil || p.Unranked.Reason != n.Unranked[0].Reason {
		t.Errorf("a-later's place: %+v %+v, want next's reason %q", p.Rank, p.Unranked, n.Unranked[0].Reason)
	}
	n.Stop = []Action{{Kind: CleanUpFlag, Feature: "decided", Reason: "r"}, {Kind: CleanUpFlag, Feature: "other"}}
	if p := n.PlaceOf(items, "decided"); p.Rank != nil || p.Unranked != nil || p.Blocking || !reflect.DeepEqual(p.Stop, n.Stop[:1]) {
		t.Errorf("decided's place: %+v %+v blocking %v stop %+v, want none, blocking nothing, its own stop action", p.Rank, p.Unranked, p.Blocking, p.Stop)
	}
}
