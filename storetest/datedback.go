package storetest

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
)

// DatedStore dates flag creations and hypotheses back, for loading a
// history (serve --demo). A store that implements it runs the DatedBack
// case of the contract.
type DatedStore interface {
	Store
	ReplaceFlagSetAt(ctx context.Context, env string, set *valueloop.FlagSet, ifVersion int64, actor, reason string, at time.Time) (valueloop.FlagSetChange, error)
	PutHypothesisAt(ctx context.Context, env, flag string, h *experiment.Hypothesis, actor string, at time.Time) error
	Hypothesis(ctx context.Context, env, flag string) (*experiment.Hypothesis, error)
}

// testDatedBack: a flag env never had is created at the time given, no
// earlier than env's latest flag change and no later than now; nothing
// else is dated back (an update, a delete, a flag made again after a
// delete: a first version starts no split period, a later one would move
// the periods exposures were filed by). A hypothesis the flag never had
// is dated back alike.
func testDatedBack(t *testing.T, st Store, clock *Clock) {
	s := kept[DatedStore](t, st, "the store dates nothing back")
	ctx := context.Background()
	if err := s.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "Prod"}, "root"); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	now := clock.Now()
	flag := func(key, def string) *valueloop.Flag {
		return &valueloop.Flag{Key: key, State: valueloop.StateEnabled, Variants: map[string]any{"on": true, "off": false}, DefaultVariant: strp(def)}
	}
	set := func(fs ...*valueloop.Flag) *valueloop.FlagSet {
		out := &valueloop.FlagSet{Flags: map[string]*valueloop.Flag{}, Metadata: map[string]any{"owner": "web"}}
		for _, f := range fs {
			out.Flags[f.Key] = f
		}
		return out
	}
	created := func(key string) time.Time {
		t.Helper()
		entries, err := s.Audit(ctx, valueloop.AuditFilter{Environment: "prod", Target: key})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Action == "flag.create" {
				return e.At
			}
		}
		return time.Time{}
	}
	if _, err := s.ReplaceFlagSetAt(ctx, "prod", set(flag("a", "off")), -1, "demo", "", now.Add(-30*day)); err != nil {
		t.Fatal(err)
	}
	if got := created("a"); !got.Equal(now.Add(-30 * day)) {
		t.Errorf("a created at %v, want 30 days before now (%v)", got, now.Add(-30*day))
	}
	for _, tc := range []struct {
		name string
		set  *valueloop.FlagSet
		at   time.Time
	}{
		{"ahead of the clock", set(flag("a", "off"), flag("b", "off")), now.Add(time.Hour)},
		{"before the latest change", set(flag("a", "off"), flag("b", "off")), now.Add(-40 * day)},
		{"an update", set(flag("a", "on")), now.Add(-20 * day)},
		{"a delete", set(), now.Add(-20 * day)},
		// The set's $evaluators and metadata are the environment's: a
		// change of those it had is no creation (a $ref'd fragment
		// changes the flags that use it).
		{"a change of the set's metadata", func() *valueloop.FlagSet {
			out := set(flag("a", "off"), flag("b", "off"))
			out.Metadata = map[string]any{"owner": "checkout"}
			return out
		}(), now.Add(-20 * day)},
	} {
		if _, err := s.ReplaceFlagSetAt(ctx, "prod", tc.set, -1, "demo", "", tc.at); valueloop.ErrorCode(err) != valueloop.EINVALID {
			t.Errorf("%s dated back: %v, want invalid", tc.name, err)
		}
		if got, _, _ := s.FlagSet(ctx, "prod"); len(got.Flags) != 1 || got.Flags["a"] == nil || *got.Flags["a"].DefaultVariant != "off" {
			t.Errorf("%s dated back changed the flags: %v", tc.name, slicesOf(got))
		}
	}
	if _, err := s.ReplaceFlagSetAt(ctx, "prod", set(flag("a", "off"), flag("b", "off")), -1, "demo", "", now.Add(-20*day)); err != nil {
		t.Fatal(err)
	}
	if got := created("b"); !got.Equal(now.Add(-20 * day)) {
		t.Errorf("b created at %v, want 20 days before now", got)
	}
	// Made again after a delete, a flag has a history: its new first
	// version would start a split period.
	if _, err := s.ReplaceFlagSet(ctx, "prod", set(flag("b", "off")), -1, "bob", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReplaceFlagSetAt(ctx, "prod", set(flag("a", "off"), flag("b", "off")), -1, "demo", "", now); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("a made again, dated: %v, want invalid", err)
	}

	h := experiment.NewHypothesis()
	h.Statement = "a shorter onboarding gets more people to sign up"
	h.PrimaryMetric, h.Direction, h.MinimumEffect = "signup", experiment.Increase, 0.03
	if err := s.PutHypothesisAt(ctx, "prod", "b", h, "demo", now.Add(time.Hour)); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("hypothesis ahead of the clock: %v, want invalid", err)
	}
	if err := s.PutHypothesisAt(ctx, "prod", "b", h, "demo", now.Add(-19*day)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Hypothesis(ctx, "prod", "b")
	if err != nil || !got.UpdatedAt.Equal(now.Add(-19*day)) {
		t.Errorf("hypothesis dated back: %v, %v; want it updated 19 days before now", got, err)
	}
	entries, err := s.Audit(ctx, valueloop.AuditFilter{Environment: "prod", Target: "b"})
	if err != nil || len(entries) == 0 || entries[0].Action != "hypothesis.put" || !entries[0].At.Equal(now.Add(-19*day)) {
		t.Errorf("hypothesis audit: %+v, %v; want hypothesis.put 19 days before now", entries, err)
	}
	if err := s.PutHypothesisAt(ctx, "prod", "b", h, "demo", now.Add(-18*day)); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("a hypothesis the flag has, dated back: %v, want invalid", err)
	}
}

func slicesOf(set *valueloop.FlagSet) []string {
	if set == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(set.Flags))
}
