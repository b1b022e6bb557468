package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/features"
	"github.com/valueloop/valueloop/value"
)

// ValueStore keeps the value loop's objectives, features, links and
// lifecycles. A store that implements it runs the Value case.
type ValueStore interface {
	Store
	features.Store
}

func testValue(t *testing.T, st Store, clock *Clock) {
	s := kept[ValueStore](t, st, "the store keeps no objectives and features")
	ctx := context.Background()
	t0 := clock.T
	if os, err := s.Objectives(ctx); err != nil || os == nil || len(os) != 0 {
		t.Errorf("objectives before any: %v, %v; want empty", os, err)
	}
	if fs, err := s.Features(ctx); err != nil || fs == nil || len(fs) != 0 {
		t.Errorf("features before any: %v, %v; want empty", fs, err)
	}
	horizon, _ := value.ParseDate("2027-03-31")
	o := value.Objective{Key: "activation", Title: "Activation", Metric: "onboarding-completed",
		Target: value.Target{Direction: experiment.Increase, Value: 0.1}, Horizon: horizon}
	if err := s.PutObjective(ctx, &o, "ana"); err != nil {
		t.Fatal(err)
	}
	if !o.CreatedAt.Equal(t0) || !o.UpdatedAt.Equal(t0) {
		t.Errorf("objective times: %v %v, want the clock's %v", o.CreatedAt, o.UpdatedAt, t0)
	}
	// A feature on an objective that does not exist: refused, nothing stored.
	bad := value.Feature{Key: "x", Title: "X", Objective: "growth", Hypothesis: value.Hypothesis{Change: "x"}}
	if err := s.PutFeature(ctx, &bad, "ana"); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("feature on an unknown objective: got %v, want invalid", err)
	}
	if _, err := s.Feature(ctx, "x"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("feature refused, then read: got %v, want not found", err)
	}
	clock.T = t0.Add(time.Hour)
	f := value.Feature{Key: "new-onboarding", Title: "Guided onboarding", Objective: "activation",
		Hypothesis: value.Hypothesis{Change: "a guided onboarding", Metric: "onboarding-completed", MinimumEffect: 0.05},
		Estimate:   &value.Estimate{CostOfDelay: &value.CostOfDelay{UserValue: 8, TimeCriticality: 5, RiskReduction: 3}, Size: 5},
		Links:      value.Links{Flags: []value.FlagLink{{Environment: "production", Flag: "new-onboarding", Variant: "treatment"}}}}
	if err := s.PutFeature(ctx, &f, "ana"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Feature(ctx, "new-onboarding")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, f) {
		t.Errorf("feature read back:\ngot  %+v\nwant %+v", *got, f)
	}
	// Updated: created stays, updated moves.
	clock.T = t0.Add(2 * time.Hour)
	f.Title = "Guided three-step onboarding"
	if err := s.PutFeature(ctx, &f, "ben"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Feature(ctx, f.Key); got.Title != f.Title || !got.CreatedAt.Equal(t0.Add(time.Hour)) || !got.UpdatedAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("updated feature: %+v", got)
	}
	// A write over a version: only over the stored one, else a conflict
	// that stores nothing.
	stale := f.Version()
	f.Title = "Guided onboarding, edited by ana"
	if err := s.PutFeatureIf(ctx, &f, stale, "ana"); err != nil {
		t.Errorf("write over the stored version: %v", err)
	}
	lost := f
	lost.Title = "Guided onboarding, edited by ben"
	if err := s.PutFeatureIf(ctx, &lost, stale, "ben"); valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("write over a stale version: got %v, want conflict", err)
	}
	if err := s.PutFeatureIf(ctx, &value.Feature{Key: "gone", Title: "G", Objective: "activation", Hypothesis: value.Hypothesis{Change: "g"}}, stale, "ben"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("write over a version of a feature that is not stored: got %v, want not found (as a flag's)", err)
	}
	if err := s.PutObjectiveIf(ctx, &value.Objective{Key: "gone", Title: "G", Metric: "m"}, value.AnyVersion, "ben"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("write over any version of an objective that is not stored: got %v, want not found (as a flag's)", err)
	}
	if _, err := s.Objective(ctx, "gone"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("objective gone: %v, want it not created", err)
	}
	if got, _ := s.Feature(ctx, f.Key); got.Title != f.Title || got.Version() != f.Version() {
		t.Errorf("after the stale write: %q at %s, want %q at %s", got.Title, got.Version(), f.Title, f.Version())
	}
	if _, err := s.Feature(ctx, "gone"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("refused write over a version stored %v", err)
	}
	staleObjective := o.Version()
	o.Title = "Activation, edited by ana"
	if err := s.PutObjectiveIf(ctx, &o, staleObjective, "ana"); err != nil {
		t.Errorf("objective written over its stored version: %v", err)
	}
	lostObjective := o
	lostObjective.Title = "Activation, edited by ben"
	if err := s.PutObjectiveIf(ctx, &lostObjective, staleObjective, "ben"); valueloop.ErrorCode(err) != valueloop.ECONFLICT {
		t.Errorf("objective written over a stale version: got %v, want conflict", err)
	}
	if got, _ := s.Objective(ctx, o.Key); got.Title != o.Title {
		t.Errorf("objective after the stale write: %q, want %q", got.Title, o.Title)
	}
	// Refused, saying how many features bet on it in words that add up:
	// "has 1 features (KEY…)" read as if more were left out.
	if err := s.DeleteObjective(ctx, "activation", "ana"); valueloop.ErrorCode(err) != valueloop.ECONFLICT ||
		valueloop.ErrorMessage(err) != `objective "activation" has 1 feature (`+f.Key+`): delete or move it first` {
		t.Errorf("delete an objective with features: got %v, want conflict naming its one feature", err)
	}

	// Moves by hand, numbered.
	clock.T = t0.Add(3 * time.Hour)
	if _, err := s.MoveFeature(ctx, "nope", value.Ready, "", "ana", time.Time{}); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("move an unknown feature: got %v, want not found", err)
	}
	m1, err := s.MoveFeature(ctx, f.Key, value.Ready, "estimated", "ana", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := s.MoveFeature(ctx, f.Key, value.Abandoned, "", "ben", t0.Add(-time.Hour)) // backdated
	moves, err := s.Moves(ctx, f.Key)
	if err != nil || len(moves) != 2 || !reflect.DeepEqual(moves[0], m1) || !reflect.DeepEqual(moves[1], m2) || m1.ID == m2.ID || !m1.At.Equal(clock.T) || !m2.At.Equal(t0.Add(-time.Hour)) {
		t.Errorf("moves: %+v, %v; want %+v, %+v", moves, err, m1, m2)
	}

	// Links: idempotent; a link to no feature is skipped.
	c := dora.Change{Repo: "shop/web", SHA: "4c1e9a0", AuthoredAt: t0, MergedAt: t0.Add(time.Hour)}
	links := []features.ChangeLink{{Feature: f.Key, Change: c, By: "trailer"}, {Feature: "ghost", Change: c, By: "trailer"}}
	if n, err := s.LinkChanges(ctx, links); err != nil || n != 1 {
		t.Errorf("link: %d, %v; want 1 new", n, err)
	}
	if n, err := s.LinkChanges(ctx, links); err != nil || n != 0 {
		t.Errorf("link again: %d, %v; want 0 new", n, err)
	}
	if got, err := s.FeatureChanges(ctx, f.Key); err != nil || len(got) != 1 || got[0].By != "trailer" || !got[0].Change.MergedAt.Equal(c.MergedAt) {
		t.Errorf("feature changes: %+v, %v", got, err)
	}

	// Sightings: first stays, last and users rise.
	x := features.Sighting{Environment: "production", Flag: "new-onboarding", FirstSeen: t0, LastSeen: t0, Users: 10}
	if err := s.SeeFlags(ctx, []features.Sighting{x}); err != nil {
		t.Fatal(err)
	}
	x2 := x
	x2.FirstSeen, x2.LastSeen, x2.Users = t0.Add(time.Hour), t0.Add(time.Hour), 25
	if err := s.SeeFlags(ctx, []features.Sighting{x2}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Sightings(ctx); err != nil || len(got) != 1 || !got[0].FirstSeen.Equal(t0) || !got[0].LastSeen.Equal(t0.Add(time.Hour)) || got[0].Users != 25 {
		t.Errorf("sightings: %+v, %v", got, err)
	}

	// Lifecycles: new transitions are returned and audited once.
	l := value.Derive([]value.Event{value.CreatedEvent(&f, "ana"), m1, value.ChangeEvents(c, "trailer")[0]}, nil)
	added, err := s.SaveLifecycle(ctx, f.Key, &l)
	if err != nil || len(added) != 3 {
		t.Fatalf("save: %d transitions, %v; want 3", len(added), err)
	}
	if added, err := s.SaveLifecycle(ctx, f.Key, &l); err != nil || len(added) != 0 {
		t.Errorf("save again: %d transitions, %v; want none", len(added), err)
	}
	if _, err := s.SaveLifecycle(ctx, "ghost", &l); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("save a ghost's lifecycle: got %v, want not found", err)
	}
	ls, err := s.Lifecycles(ctx)
	if err != nil || len(ls) != 1 || ls[f.Key].Stage != value.Building || !reflect.DeepEqual(ls[f.Key].Transitions, l.Transitions) {
		t.Errorf("lifecycles: %+v, %v", ls, err)
	}
	audit, err := s.Audit(ctx, valueloop.AuditFilter{Target: "feature:" + f.Key})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Action)
	}
	want := []string{"feature.transition", "feature.transition", "feature.transition", "feature.move", "feature.move", "feature.update", "feature.update", "feature.create"}
	if !reflect.DeepEqual(actions, want) {
		t.Errorf("audit: got %v, want %v", actions, want)
	}

	// The version moves with a changed lifecycle only.
	v1, err := s.ValueVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveLifecycle(ctx, f.Key, &l); err != nil {
		t.Fatal(err)
	}
	if v2, _ := s.ValueVersion(ctx); v2 != v1 {
		t.Errorf("saving the same lifecycle moved the version from %d to %d", v1, v2)
	}
	l2 := value.Derive([]value.Event{value.CreatedEvent(&f, "ana")}, nil)
	if _, err := s.SaveLifecycle(ctx, f.Key, &l2); err != nil {
		t.Fatal(err)
	}
	if v3, _ := s.ValueVersion(ctx); v3 <= v1 {
		t.Errorf("a changed lifecycle left the version at %d", v3)
	}
	if _, err := s.SaveLifecycle(ctx, f.Key, &l); err != nil {
		t.Fatal(err)
	}
	// Apply in one transaction: a feature on an unknown objective fails the
	// whole file.
	o2 := value.Objective{Key: "revenue", Title: "Revenue", Metric: "revenue", Target: value.Target{Direction: experiment.Increase, Value: 0.05}, Horizon: horizon}
	f2 := value.Feature{Key: "checkout", Title: "Checkout", Objective: "growth", Hypothesis: value.Hypothesis{Change: "c"}}
	file := &value.File{Objectives: []value.Objective{o2}, Features: []value.Feature{f2}}
	ops := value.Plan(&value.File{}, file, false)
	if err := s.ApplyValue(ctx, file, ops, "ci"); err == nil {
		t.Error("apply with a feature on an unknown objective succeeded")
	}
	if os, _ := s.Objectives(ctx); len(os) != 1 {
		t.Errorf("a failed apply stored objectives: %+v", os)
	}
	file.Features[0].Objective = "revenue"
	if err := s.ApplyValue(ctx, file, ops, "ci"); err != nil {
		t.Fatal(err)
	}
	if os, _ := s.Objectives(ctx); len(os) != 2 {
		t.Errorf("applied: %d objectives, want 2", len(os))
	}
	testValuePages(t, s, f.Key)
	del := []value.Op{{Action: "delete", Kind: "feature", Key: "checkout"}, {Action: "delete", Kind: "objective", Key: "revenue"}}
	if err := s.ApplyValue(ctx, &value.File{}, del, "ci"); err != nil {
		t.Fatal(err)
	}

	// Delete: the moves and links go with the feature.
	if err := s.DeleteFeature(ctx, f.Key, "ana"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFeature(ctx, f.Key, "ana"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("delete twice: got %v, want not found", err)
	}
	if ms, _ := s.Moves(ctx, f.Key); len(ms) != 0 {
		t.Errorf("moves outlived their feature: %+v", ms)
	}
	if ls, _ := s.FeatureChanges(ctx, f.Key); len(ls) != 0 {
		t.Errorf("links outlived their feature: %+v", ls)
	}
	if err := s.DeleteObjective(ctx, "activation", "ana"); err != nil {
		t.Errorf("delete the objective without features: %v", err)
	}
}

// testValuePages: one objective by key, and pages of objectives and of
// features (by objective and stage) read by key after a cursor. It runs
// with objectives activation and revenue, feature checkout (revenue, never
// synced) and feature building (activation, stage building).
func testValuePages(t *testing.T, s ValueStore, building string) {
	ctx := context.Background()
	if o, err := s.Objective(ctx, "revenue"); err != nil || o.Key != "revenue" || o.Title != "Revenue" || o.CreatedAt.IsZero() {
		t.Errorf("objective revenue: %+v, %v", o, err)
	}
	if _, err := s.Objective(ctx, "nope"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("objective nope: %v, want not found", err)
	}
	objectiveKeys := func(after string, limit int) []string {
		os, err := s.ObjectivePage(ctx, after, limit)
		if err != nil || os == nil {
			t.Fatalf("objectives after %q: %v, %v", after, os, err)
		}
		var keys []string
		for _, o := range os {
			keys = append(keys, o.Key)
		}
		return keys
	}
	for _, c := range []struct {
		after string
		limit int
		want  []string
	}{
		{"", 10, []string{"activation", "revenue"}},
		{"", 1, []string{"activation"}},
		{"activation", 10, []string{"revenue"}},
		{"revenue", 10, nil},
	} {
		if got := objectiveKeys(c.after, c.limit); !reflect.DeepEqual(got, c.want) {
			t.Errorf("objectives after %q, limit %d: %v, want %v", c.after, c.limit, got, c.want)
		}
	}
	for _, c := range []struct {
		q    features.FeatureQuery
		want []string // key:stage
	}{
		{features.FeatureQuery{Limit: 10}, []string{"checkout:idea", building + ":building"}},
		{features.FeatureQuery{Limit: 1}, []string{"checkout:idea"}},
		{features.FeatureQuery{After: "checkout", Limit: 10}, []string{building + ":building"}},
		{features.FeatureQuery{Objective: "activation", Limit: 10}, []string{building + ":building"}},
		{features.FeatureQuery{Stage: value.Idea, Limit: 10}, []string{"checkout:idea"}},
		{features.FeatureQuery{Stage: value.Building, Objective: "revenue", Limit: 10}, nil},
	} {
		fs, err := s.FeaturePage(ctx, c.q)
		if err != nil || fs == nil {
			t.Fatalf("features %+v: %v, %v", c.q, fs, err)
		}
		var got []string
		for _, f := range fs {
			got = append(got, f.Feature.Key+":"+string(f.Lifecycle.Stage))
			if f.Feature.CreatedAt.IsZero() || (f.Lifecycle.Stage == value.Building && f.Lifecycle.Since.IsZero()) {
				t.Errorf("features %+v: %s without its times: %+v", c.q, f.Feature.Key, f)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("features %+v: %v, want %v", c.q, got, c.want)
		}
	}
}
