package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
)

// VerdictStore records when the verdicts of experiments were reached. A
// store that implements it runs the Verdicts case of the contract.
type VerdictStore interface {
	HypothesisStore
	RecordVerdict(ctx context.Context, rec *experiment.VerdictRecord) (bool, error)
	VerdictHistory(ctx context.Context, env, flag string) ([]experiment.VerdictRecord, error)
	HypothesisFlags(ctx context.Context) ([]experiment.FlagRef, error)
}

func testVerdicts(t *testing.T, st Store, clock *Clock) {
	s := kept[VerdictStore](t, st, "the store records no verdicts")
	ctx := context.Background()
	for _, env := range []string{"prod", "dev"} {
		if err := s.CreateEnvironment(ctx, valueloop.Environment{Key: env, Name: env}, "t"); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.VerdictHistory(ctx, "prod", "onboarding"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("history before any: %v, %v; want empty, nil", got, err)
	}
	record := func(d experiment.Decision, users int64) (experiment.VerdictRecord, bool) {
		t.Helper()
		rec := experiment.VerdictRecord{Environment: "prod", Flag: "onboarding", Decision: d, Code: "code-" + string(d), Reason: "because " + string(d),
			Figures: experiment.VerdictFigures{Variant: "treatment", PrimaryMetric: "signup", Users: users, Effect: &experiment.Bounds{Estimate: 0.1, Lower: 0.05, Upper: 0.15}}}
		ok, err := s.RecordVerdict(ctx, &rec)
		if err != nil {
			t.Fatalf("RecordVerdict(%s): %v", d, err)
		}
		return rec, ok
	}

	start := clock.T
	first, ok := record(experiment.Validated, 1000)
	if !ok || !first.At.Equal(start) {
		t.Errorf("first validated: recorded %v at %v, want true at %v", ok, first.At, start)
	}
	clock.T = clock.T.Add(time.Hour)
	if again, ok := record(experiment.Validated, 1200); ok || !again.At.IsZero() {
		t.Errorf("same verdict again: recorded %v (at %v), want false", ok, again.At)
	}
	clock.T = clock.T.Add(time.Hour)
	flipped, ok := record(experiment.Invalidated, 1500)
	if !ok || !flipped.At.Equal(clock.T) {
		t.Errorf("different verdict: recorded %v at %v, want true at %v", ok, flipped.At, clock.T)
	}
	clock.T = clock.T.Add(time.Hour)
	back, ok := record(experiment.Validated, 1800)
	if !ok {
		t.Errorf("validated after invalidated: not recorded")
	}

	got, err := s.VerdictHistory(ctx, "prod", "onboarding")
	if err != nil {
		t.Fatal(err)
	}
	want := []experiment.VerdictRecord{first, flipped, back}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("history:\n%+v\nwant\n%+v", got, want)
	}
	if at, ok := experiment.FirstReached(got, experiment.Validated); !ok || !at.Equal(start) {
		t.Errorf("first validated at %v %v, want %v", at, ok, start)
	}
	if other, _ := s.VerdictHistory(ctx, "dev", "onboarding"); len(other) != 0 {
		t.Errorf("history of another environment: %+v, want none", other)
	}

	// Bad input changes nothing.
	bad := []struct {
		rec   experiment.VerdictRecord
		field string
		code  string
	}{
		{experiment.VerdictRecord{Environment: "prod", Flag: "onboarding", Decision: experiment.KeepRunning}, "decision", valueloop.EINVALID},
		{experiment.VerdictRecord{Environment: "prod", Decision: experiment.Validated}, "flag", valueloop.EINVALID},
		{experiment.VerdictRecord{Environment: "nowhere", Flag: "onboarding", Decision: experiment.Invalidated}, "", valueloop.ENOTFOUND},
	}
	for _, b := range bad {
		ok, err := s.RecordVerdict(ctx, &b.rec)
		refused(t, fmt.Sprintf("RecordVerdict(%+v)", b.rec), ok, err, b.code, b.field)
	}
	if after, _ := s.VerdictHistory(ctx, "prod", "onboarding"); len(after) != 3 {
		t.Errorf("bad input changed the history: %d records, want 3", len(after))
	}

	// The audit trail has one experiment.verdict entry per transition.
	entries, err := s.Audit(ctx, valueloop.AuditFilter{Environment: "prod", Target: "onboarding"})
	if err != nil || len(entries) != 3 {
		t.Fatalf("audit: %d entries, %v; want 3", len(entries), err)
	}
	for _, e := range entries {
		if e.Action != "experiment.verdict" {
			t.Errorf("audit action %q, want experiment.verdict", e.Action)
		}
	}
	var after experiment.VerdictRecord
	if err := json.Unmarshal(entries[0].After, &after); err != nil || after.Decision != experiment.Validated || entries[0].Before == nil || entries[2].Before != nil {
		t.Errorf("newest audit entry: after %s (%v), before %s; oldest before %s", entries[0].After, err, entries[0].Before, entries[2].Before)
	}

	// HypothesisFlags lists the flags with a hypothesis.
	for _, f := range []experiment.FlagRef{{Environment: "prod", Flag: "b"}, {Environment: "dev", Flag: "a"}, {Environment: "prod", Flag: "a"}} {
		h := experiment.NewHypothesis()
		h.PrimaryMetric, h.MinimumEffect = "signup", 0.02
		if err := s.PutHypothesis(ctx, f.Environment, f.Flag, h, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	flags, err := s.HypothesisFlags(ctx)
	wantFlags := []experiment.FlagRef{{Environment: "dev", Flag: "a"}, {Environment: "prod", Flag: "a"}, {Environment: "prod", Flag: "b"}}
	if err != nil || !reflect.DeepEqual(flags, wantFlags) {
		t.Errorf("HypothesisFlags() = %+v, %v; want %+v", flags, err, wantFlags)
	}
}

// refused checks that call, given bad input, wrote nothing (ok false) and
// failed with an error of kind code naming field (when not "").
func refused(t *testing.T, call string, ok bool, err error, code, field string) {
	t.Helper()
	if ok || valueloop.ErrorCode(err) != code {
		t.Errorf("%s = %v, %v; want kind %s", call, ok, err, code)
	}
	var ve *valueloop.Error
	if field != "" && (!errors.As(err, &ve) || ve.Field != field) {
		t.Errorf("%s: error %v does not name field %q", call, err, field)
	}
}
