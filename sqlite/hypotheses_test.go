package sqlite_test

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/storetest"
)

func TestHypotheses(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "test.db")
	clock := &storetest.Clock{T: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	db := sqlite.NewDB(path)
	db.Now = clock.Now
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	if err := db.CreateEnvironment(ctx, valueloopEnv("prod"), "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Hypothesis(ctx, "prod", "onboarding"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("before any: got %v, want not found", err)
	}
	h := experiment.NewHypothesis()
	h.Statement = "a shorter onboarding gets more people to sign up"
	h.PrimaryMetric, h.Direction, h.MinimumEffect, h.Power = "signup", experiment.Increase, 0.03, 0.9
	h.Guardrails = []experiment.Guardrail{{Metric: "tickets", Tolerance: 0.1}, {Metric: "latency", Tolerance: 20, Absolute: true}}
	h.Settings.CUPED = false
	h.Settings.Weights = map[string]float64{"control": 90, "treatment": 10}
	want := *h
	if err := db.PutHypothesis(ctx, "prod", "onboarding", h, "alice"); err != nil {
		t.Fatal(err)
	}
	if h.Version != 1 || h.UpdatedBy != "alice" || !h.UpdatedAt.Equal(clock.Now()) {
		t.Errorf("after put: version %d by %q at %v", h.Version, h.UpdatedBy, h.UpdatedAt)
	}
	got, err := db.Hypothesis(ctx, "prod", "onboarding")
	if err != nil {
		t.Fatal(err)
	}
	want.Version, want.UpdatedAt, want.UpdatedBy = 1, clock.Now().UTC(), "alice"
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("read back:\n%+v\nwant\n%+v", *got, want)
	}

	clock.T = clock.T.Add(time.Hour)
	h.MinimumEffect = 0.05
	if err := db.PutHypothesis(ctx, "prod", "onboarding", h, "bob"); err != nil {
		t.Fatal(err)
	}
	if h.Version != 2 || h.UpdatedBy != "bob" {
		t.Errorf("after replace: version %d by %q, want 2 by bob", h.Version, h.UpdatedBy)
	}
	if err := db.PutHypothesis(ctx, "nowhere", "onboarding", experiment.NewHypothesis(), "bob"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("put in a missing environment: got %v, want not found", err)
	}

	// Survives a reopen.
	db.Close()
	db = sqlite.NewDB(path)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Hypothesis(ctx, "prod", "onboarding"); err != nil || got.MinimumEffect != 0.05 || got.Version != 2 {
		t.Errorf("after reopen: %+v, %v", got, err)
	}
	if err := db.DeleteHypothesis(ctx, "prod", "onboarding", "carol"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteHypothesis(ctx, "prod", "onboarding", "carol"); valueloop.ErrorCode(err) != valueloop.ENOTFOUND {
		t.Errorf("second delete: got %v, want not found", err)
	}
	entries, err := db.Audit(ctx, valueloop.AuditFilter{Environment: "prod", Target: "onboarding"})
	if err != nil || len(entries) != 3 {
		t.Fatalf("audit = %+v, %v; want 3 entries", entries, err)
	}
	if entries[0].Action != "hypothesis.delete" || entries[1].Action != "hypothesis.put" || entries[1].Before == nil || entries[2].Before != nil || entries[2].Actor != "alice" {
		t.Errorf("audit = %+v", entries)
	}
}
