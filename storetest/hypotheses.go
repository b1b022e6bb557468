package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
)

// HypothesisStore keeps the hypotheses of experiments. A store that
// implements it runs the Hypotheses case of the contract.
type HypothesisStore interface {
	Store
	Hypothesis(ctx context.Context, env, flag string) (*experiment.Hypothesis, error)
	// Hypotheses reads those of many flags of one environment at once.
	Hypotheses(ctx context.Context, env string, flags ...string) (map[string]*experiment.Hypothesis, error)
	PutHypothesis(ctx context.Context, env, flag string, h *experiment.Hypothesis, actor string) error
	DeleteHypothesis(ctx context.Context, env, flag, actor string) error
}

func testHypotheses(t *testing.T, st Store, clock *Clock) {
	s := kept[HypothesisStore](t, st, "the store keeps no hypotheses")
	Hypotheses(t, s, clock, nil)
}

// Hypotheses is the Hypotheses case of the contract on s, whose clock is
// clock. When reopen is not nil it is called after the writes, to close the
// store and open it again on the same data, and the reads that follow check
// what survived.
func Hypotheses(t *testing.T, s HypothesisStore, clock *Clock, reopen func() HypothesisStore) {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateEnvironment(ctx, valueloop.Environment{Key: "prod", Name: "prod"}, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Hypothesis(ctx, "prod", "onboarding"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("before any: got %v, want not found", err)
	}
	h := experiment.NewHypothesis()
	h.Statement = "a shorter onboarding gets more people to sign up"
	h.PrimaryMetric, h.Direction, h.MinimumEffect, h.Power = "signup", experiment.Increase, 0.03, 0.9
	h.Guardrails = []experiment.Guardrail{{Metric: "tickets", Tolerance: 0.1}, {Metric: "latency", Tolerance: 20, Absolute: true}}
	h.Settings.CUPED = false
	h.Settings.Weights = map[string]float64{"control": 90, "treatment": 10}
	want := *h
	if err := s.PutHypothesis(ctx, "prod", "onboarding", h, "alice"); err != nil {
		t.Fatal(err)
	}
	if h.Version != 1 || h.UpdatedBy != "alice" || !h.UpdatedAt.Equal(clock.Now()) {
		t.Errorf("after put: version %d by %q at %v", h.Version, h.UpdatedBy, h.UpdatedAt)
	}
	got, err := s.Hypothesis(ctx, "prod", "onboarding")
	if err != nil {
		t.Fatal(err)
	}
	want.Version, want.UpdatedAt, want.UpdatedBy = 1, clock.Now().UTC(), "alice"
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("read back:\n%+v\nwant\n%+v", *got, want)
	}
	clock.T = clock.T.Add(time.Hour)
	h.MinimumEffect = 0.05
	if err := s.PutHypothesis(ctx, "prod", "onboarding", h, "bob"); err != nil {
		t.Fatal(err)
	}
	if h.Version != 2 || h.UpdatedBy != "bob" {
		t.Errorf("after replace: version %d by %q, want 2 by bob", h.Version, h.UpdatedBy)
	}
	if err := s.PutHypothesis(ctx, "nowhere", "onboarding", experiment.NewHypothesis(), "bob"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("put in a missing environment: got %v, want not found", err)
	}
	if reopen != nil {
		s = reopen()
	}
	if got, err := s.Hypothesis(ctx, "prod", "onboarding"); err != nil || got.Version != 2 || got.UpdatedBy != "bob" || got.MinimumEffect != 0.05 {
		t.Errorf("after replace: %+v, %v; want version 2 by bob", got, err)
	}
	if err := s.DeleteHypothesis(ctx, "prod", "onboarding", "carol"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteHypothesis(ctx, "prod", "onboarding", "carol"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("second delete: got %v, want not found", err)
	}
	entries, err := s.Audit(ctx, valueloop.AuditFilter{Environment: "prod", Target: "onboarding"})
	if err != nil || len(entries) != 3 {
		t.Fatalf("audit = %+v, %v; want 3 entries", entries, err)
	}
	if entries[0].Action != "hypothesis.delete" || entries[1].Action != "hypothesis.put" || entries[1].Before == nil ||
		entries[2].Action != "hypothesis.put" || entries[2].Before != nil || entries[2].Actor != "alice" {
		t.Errorf("audit = %+v; want delete, put, put (the first, by alice, without before)", entries)
	}
	// Made again after the delete, the hypothesis starts above version 2,
	// the deleted one's: at 1 again it would pass for the deleted one's
	// first version with anyone who read that.
	again := experiment.NewHypothesis()
	again.PrimaryMetric, again.Direction, again.MinimumEffect = "signup", experiment.Increase, 0.2
	if err := s.PutHypothesis(ctx, "prod", "onboarding", again, "dave"); err != nil {
		t.Fatal(err)
	}
	if again.Version <= 2 {
		t.Errorf("made again after the delete at version %d; want above 2, the deleted one's last", again.Version)
	}
	if got, err := s.Hypothesis(ctx, "prod", "onboarding"); err != nil || got.Version != again.Version {
		t.Errorf("made again: read %+v, %v; want version %d", got, err, again.Version)
	}
	batchedHypotheses(t, s)
}

// batchedHypotheses: Hypotheses reads the flags named of one environment,
// each as Hypothesis reads it, and leaves out the flags without one and
// the same flag's hypothesis in another environment.
func batchedHypotheses(t *testing.T, s HypothesisStore) {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateEnvironment(ctx, valueloop.Environment{Key: "staging", Name: "staging"}, "t"); err != nil {
		t.Fatal(err)
	}
	for _, at := range [][2]string{{"prod", "checkout"}, {"staging", "search"}} {
		h := experiment.NewHypothesis()
		h.PrimaryMetric, h.Direction, h.MinimumEffect = "m-"+at[1], experiment.Increase, 0.1
		if err := s.PutHypothesis(ctx, at[0], at[1], h, "erin"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Hypotheses(ctx, "prod", "onboarding", "checkout", "search", "none")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["onboarding"] == nil || got["checkout"] == nil {
		t.Fatalf("Hypotheses(prod, onboarding, checkout, search, none) = %v; want onboarding and checkout only", got)
	}
	for flag, h := range got {
		one, err := s.Hypothesis(ctx, "prod", flag)
		if err != nil || !reflect.DeepEqual(h, one) {
			t.Errorf("%s: batched %+v, alone %+v, %v; want the same", flag, h, one, err)
		}
	}
	if got, err := s.Hypotheses(ctx, "prod"); err != nil || len(got) != 0 {
		t.Errorf("Hypotheses of no flag = %v, %v; want none", got, err)
	}
}
