package value

import (
	"reflect"
	"testing"
)

func TestRecognizer(t *testing.T) {
	r := NewRecognizer(mustParse(t).Features)
	for _, tc := range []struct {
		name string
		c    ChangeText
		want []Match
	}{
		{"trailer", ChangeText{Message: "Add step two\n\nFeature: new-onboarding\n"}, []Match{{"new-onboarding", "trailer"}}},
		{"trailer any case, spaces", ChangeText{Message: "x\n\n  feature:   one-page-checkout  \r\n"}, []Match{{"one-page-checkout", "trailer"}}},
		{"two trailers", ChangeText{Message: "x\n\nFeature: saved-carts\nFeature: one-page-checkout"}, []Match{{"one-page-checkout", "trailer"}, {"saved-carts", "trailer"}}},
		{"unknown feature ignored", ChangeText{Message: "x\n\nFeature: wishlist"}, nil},
		{"not a trailer mid-line", ChangeText{Message: "this Feature: new-onboarding is great"}, nil},
		{"label, any case", ChangeText{Labels: []string{"bug", "Feature:Onboarding"}}, []Match{{"new-onboarding", "label"}}},
		{"branch prefix", ChangeText{Branch: "refs/heads/onboarding/step-two"}, []Match{{"new-onboarding", "branch"}}},
		{"branch not matching", ChangeText{Branch: "main"}, nil},
		{"fork's branch prefix", ChangeText{Branch: "octo-fork/shop:onboarding/step-two"}, []Match{{"new-onboarding", "branch"}}},
		{"several ways, one match", ChangeText{Message: "Feature: new-onboarding", Labels: []string{"feature:onboarding"}, Branch: "onboarding/x"},
			[]Match{{"new-onboarding", "trailer"}}},
	} {
		if got := r.Match(tc.c); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestRecord(t *testing.T) {
	f := &mustParse(t).Features[0]
	events := []Event{
		ev("c", Created, day(0)),
		ev("commit", CommitPushed, day(2)), ev("commit2", CommitPushed, day(3)),
		ev("dep", Deployed, day(4)),
		ev("rs", RolloutStarted, day(5)), ev("step", RolloutStep, day(6)), ev("rc", RolloutCompleted, day(9)),
		verdict("v", Validated, day(19), 0.07), removed("rm", f.Links.Flags[0], day(25)),
	}
	r := NewRecord(f, events, f.ProductionFlags(map[string]bool{"production": true}), day(30))
	// Lead time to customer: first commit day 2 → rollout complete day 9 = 7
	// days. Time to validated learning: first exposure (rollout start) day 5
	// → verdict day 19 = 14 days.
	if r.LeadTimeToCustomer == nil || r.LeadTimeToCustomer.D() != days2(7).D() {
		t.Errorf("lead time to customer: got %v, want 7 days", r.LeadTimeToCustomer)
	}
	if r.TimeToValidatedLearning == nil || r.TimeToValidatedLearning.D() != days2(14).D() {
		t.Errorf("time to validated learning: got %v, want 14 days", r.TimeToValidatedLearning)
	}
	if len(r.Timeline) != 9 || r.Timeline[0].ID != "c" || r.Timeline[8].ID != "rm" || len(r.Missing) != 0 || r.Stage != Done {
		t.Errorf("record: %+v", r)
	}
	// Stage times: idea 2, building 2 (2→4), releasing 5 (4→9), measuring 10
	// (9→19), validated 6 (19→25).
	var got []float64
	for _, st := range r.StageTimes {
		got = append(got, st.Duration.Hours()/24)
	}
	if want := []float64{2, 2, 5, 10, 6}; !reflect.DeepEqual(got, want) {
		t.Errorf("stage times in days: got %v, want %v", got, want)
	}

	// Half way: rolled out to some, no verdict.
	r = NewRecord(f, []Event{ev("c", Created, day(0)), ev("commit", CommitPushed, day(2)), ev("rs", RolloutStarted, day(5))}, nil, day(30))
	if r.LeadTimeToCustomer != nil || r.TimeToValidatedLearning != nil || len(r.Missing) != 2 ||
		r.Missing[0] != "lead time to customer: the rollout has not reached everyone yet" ||
		r.Missing[1] != "time to validated learning: no verdict yet" {
		t.Errorf("half way: got %+v, missing %q", r, r.Missing)
	}

	// A flag without a rollout (an experiment): released at its first
	// exposure. Commit day 2, exposure day 6: lead time 4 days.
	r = NewRecord(f, []Event{ev("c", Created, day(0)), ev("commit", CommitPushed, day(2)), ExposureEvent("production", "new-onboarding", day(6), true),
		verdict("v", Validated, day(20), 0.1)}, nil, day(30))
	if r.LeadTimeToCustomer == nil || r.LeadTimeToCustomer.D() != days2(4).D() || r.TimeToValidatedLearning == nil || r.TimeToValidatedLearning.D() != days2(14).D() {
		t.Errorf("experiment: lead %v, learning %v; want 4 and 14 days", r.LeadTimeToCustomer, r.TimeToValidatedLearning)
	}

	// Without a flag, the production deployment releases it to everyone and
	// is its first exposure.
	noFlag := *f
	noFlag.Links.Flags = nil
	r = NewRecord(&noFlag, []Event{ev("c", Created, day(0)), ev("commit", CommitPushed, day(1)), ev("dep", Deployed, day(3)), verdict("v", Invalidated, day(10), 0)}, nil, day(30))
	if r.LeadTimeToCustomer == nil || r.LeadTimeToCustomer.D() != days2(2).D() || r.TimeToValidatedLearning == nil || r.TimeToValidatedLearning.D() != days2(7).D() {
		t.Errorf("no flag: lead %v, learning %v; want 2 and 7 days", r.LeadTimeToCustomer, r.TimeToValidatedLearning)
	}
}

// A verdict given by hand is a verdict (docs/value.md: "validated /
// invalidated: a recorded final verdict, or by hand"): the record's verdict
// and its time to validated learning are those of the verdict that stands,
// the lifecycle's, whichever way it was given. Exposure day 5 throughout.
func TestRecordVerdictByHand(t *testing.T) {
	f := &mustParse(t).Features[0]
	start := []Event{ev("c", Created, day(0)), ev("commit", CommitPushed, day(2)), ev("rs", RolloutStarted, day(5)), ev("rc", RolloutCompleted, day(9))}
	for _, tc := range []struct {
		name     string
		events   []Event
		want     Stage
		at       float64 // day of the verdict that stands
		learning float64 // days
	}{
		{"recorded", []Event{verdict("v", Validated, day(19), 0.07)}, Validated, 19, 14},
		{"by hand only", []Event{moved("m", Validated, day(12))}, Validated, 12, 7},
		{"recorded, then overruled by hand", []Event{verdict("v", Validated, day(19), 0.07), moved("m", Invalidated, day(22))}, Invalidated, 22, 17},
		{"by hand, then recorded", []Event{moved("m", Invalidated, day(15)), verdict("v", Validated, day(19), 0.07)}, Validated, 19, 14},
	} {
		r := NewRecord(f, append(append([]Event{}, start...), tc.events...), nil, day(30))
		if r.Stage != tc.want || r.Verdict != tc.want || !r.VerdictAt.Equal(day(tc.at)) {
			t.Errorf("%s: stage %s, verdict %s at %v; want %s at day %v", tc.name, r.Stage, r.Verdict, r.VerdictAt, tc.want, tc.at)
		}
		if r.TimeToValidatedLearning == nil || r.TimeToValidatedLearning.D() != days2(tc.learning).D() {
			t.Errorf("%s: time to validated learning %v (missing %q), want %v days", tc.name, r.TimeToValidatedLearning, r.Missing, tc.learning)
		}
	}
}
