package flags_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flagd"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/sqlite/sqlitetest"
)

func mustParse(t *testing.T, src string) *valueloop.FlagSet {
	t.Helper()
	set, err := flagd.Parse("test.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

const base = `{"flags":{
 "a":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off"},
 "b":{"state":"ENABLED","variants":{"x":"x","y":"y"},"defaultVariant":"x","targeting":{"if":[{"==":[{"var":"k"},1]},"y",null]}}}}`

func newService(t *testing.T) *flags.Service {
	t.Helper()
	db := sqlitetest.Open(t, nil)
	s := flags.NewService(db, nil)
	if err := s.EnsureEnvironment(context.Background(), valueloop.Environment{Key: "prod", Name: "Prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDiff(t *testing.T) {
	old := mustParse(t, base)
	next := mustParse(t, `{"flags":{
 "a":{"state":"ENABLED","variants":{"off":false,"on":true},"defaultVariant":"off"},
 "b":{"state":"ENABLED","variants":{"x":"x","y":"y"},"defaultVariant":"y"},
 "c":{"state":"DISABLED","variants":{"z":1},"defaultVariant":"z"}}}`)
	got, err := flags.Diff(old, next)
	if err != nil {
		t.Fatal(err)
	}
	want := valueloop.FlagSetChange{Added: []string{"c"}, Changed: []string{"b"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff = %+v, want %+v (a differs only in key order)", got, want)
	}
	if got, _ := flags.Diff(next, old); !reflect.DeepEqual(got.Removed, []string{"c"}) {
		t.Errorf("reverse Diff removed = %v, want [c]", got.Removed)
	}
}

func TestApplyPlanAndInvalidSets(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	change, err := s.Apply(ctx, "prod", mustParse(t, base), "alice", "first")
	if err != nil || change.Version != 1 || len(change.Added) != 2 {
		t.Fatalf("Apply = %+v, %v", change, err)
	}
	before := s.Live("prod")
	if got := before.Snapshot.Evaluate("b", map[string]any{"k": 1.0}); got.Variant != "y" {
		t.Errorf("evaluate b = %+v, want y", got)
	}

	// Plan without prune keeps flags the file lacks; with prune removes them.
	only := mustParse(t, `{"flags":{"c":{"state":"ENABLED","variants":{"z":"z"},"defaultVariant":"z"}}}`)
	next, plan, err := s.Plan("prod", only, false)
	if err != nil || len(next.Flags) != 3 || !reflect.DeepEqual(plan.Added, []string{"c"}) || len(plan.Removed) != 0 {
		t.Errorf("Plan(no prune) = %d flags, %+v, %v", len(next.Flags), plan, err)
	}
	_, plan, _ = s.Plan("prod", only, true)
	if !reflect.DeepEqual(plan.Removed, []string{"a", "b"}) {
		t.Errorf("Plan(prune).Removed = %v, want [a b]", plan.Removed)
	}
	if s.Live("prod") != before {
		t.Error("Plan changed the live snapshot")
	}

	// A set that does not compile changes nothing.
	bad := mustParse(t, base)
	bad.Flags["b"].Targeting = []byte(`{"nope":[1]}`)
	if _, err := s.Apply(ctx, "prod", bad, "alice", ""); valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("Apply(invalid) = %v, want invalid", err)
	}
	if s.Live("prod") != before {
		t.Error("an invalid set replaced the live snapshot")
	}
	if _, err := s.Apply(ctx, "nope", only, "alice", ""); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("Apply(unknown env) = %v, want not found", err)
	}
}

func TestSubscribersHearChanges(t *testing.T) {
	s := newService(t)
	ch := make(chan string, 1)
	cancel := s.Subscribe(ch)
	defer cancel()
	if _, err := s.SetState(context.Background(), "prod", "missing", valueloop.StateDisabled, -1, "t", ""); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("SetState(missing flag) = %v, want not found", err)
	}
	if _, err := s.Apply(context.Background(), "prod", mustParse(t, base), "t", ""); err != nil {
		t.Fatal(err)
	}
	select {
	case env := <-ch:
		if env != "prod" {
			t.Errorf("notified %q, want prod", env)
		}
	default:
		t.Error("no notification after a change")
	}
	v, err := s.SetState(context.Background(), "prod", "a", valueloop.StateDisabled, -1, "t", "kill")
	if err != nil || v != 2 {
		t.Errorf("SetState = %d, %v; want version 2", v, err)
	}
	if got := s.Live("prod").Snapshot.Evaluate("a", nil); got.Reason != "DISABLED" {
		t.Errorf("after the kill switch: %+v", got)
	}
}

// TestUnknownEnvironmentListsKnown: a mistyped environment is not found and
// the error lists those there are, so that the fix is in the message.
func TestUnknownEnvironmentListsKnown(t *testing.T) {
	s := newService(t)
	if err := s.EnsureEnvironment(context.Background(), valueloop.Environment{Key: "dev", Name: "Dev"}, "t"); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Plan("production", &valueloop.FlagSet{}, false)
	if valueloop.ErrorCode(err) != valueloop.ENOTFOUND || !strings.Contains(valueloop.ErrorMessage(err), `environment "production" not found; the environments are dev, prod`) {
		t.Errorf("Plan in an unknown environment: %v; want not found, listing dev and prod", err)
	}
}

// TestEnvironmentNameText: an environment's name is shown on one line by
// every client (env list, the dashboard's menus), as a title is: one
// without control characters, bidirectional ones included (they reorder
// what a terminal shows), of at most 200 bytes; a refused one names the
// field and creates nothing.
func TestEnvironmentNameText(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	for _, name := range []string{"Stag\u202Eing", "Stag\u2066ing", "Stag\x1b[2Jing", "Stag\ning", strings.Repeat("x", 201)} {
		err := s.EnsureEnvironment(ctx, valueloop.Environment{Key: "staging", Name: name}, "t")
		if e, ok := err.(*valueloop.Error); !ok || e.Field != "name" {
			t.Errorf("name %q: got %v; want an error naming name", name, err)
		}
		if s.Live("staging") != nil {
			t.Fatalf("name %q: the environment was created", name)
		}
	}
	if err := s.EnsureEnvironment(ctx, valueloop.Environment{Key: "staging", Name: "Staging \u200F(שלב)"}, "t"); err != nil {
		t.Errorf("a name with a direction mark: %v; want it created", err)
	}
}
