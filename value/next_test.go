package value

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/experiment"
)

func objective(key string, horizon string) Objective {
	h, _ := ParseDate(horizon)
	return Objective{Key: key, Title: key, Metric: "m", Target: Target{Direction: experiment.Increase, Value: 0.1}, Horizon: h}
}

// feature returns an item: the feature and the lifecycle its events prove.
func feature(key, obj string, est *Estimate, hoped float64, flags []FlagLink, events ...Event) Item {
	f := &Feature{Key: key, Title: "Feature " + key, Objective: obj, Estimate: est,
		Hypothesis: Hypothesis{Change: key, Metric: "m", MinimumEffect: hoped}, Links: Links{Flags: flags}}
	l := Derive(append([]Event{ev(key+"-created", Created, day(0))}, events...), f.ProductionFlags(map[string]bool{"production": true}))
	return Item{Feature: f, Lifecycle: &l}
}

func wsjf(user, time, risk, size float64) *Estimate {
	return &Estimate{CostOfDelay: &CostOfDelay{UserValue: user, TimeCriticality: time, RiskReduction: risk}, Size: size}
}

// portfolio is the hand-computed backlog of TestNext.
//
// Records of bets (confidence = (2·0.5 + v)/(2 + v + i); effect = (1 + Σ
// min(max(measured/hoped, 0), 3)) / (1 + measured bets)):
//
//	activation: a1 validated 0.08/0.05 = 1.6, a2 validated 0.05/0.05 = 1.0,
//	            a3 invalidated 0.01/0.05 = 0.2
//	            confidence (1+2)/(2+3) = 0.6; effect (1+2.8)/(1+3) = 0.95
//	revenue:    r1 invalidated −0.02/0.03 → 0, r2 invalidated without effect
//	            confidence (1+0)/(2+2) = 0.25; effect (1+0)/(1+1) = 0.5
//	retention:  no verdict: confidence 0.5, effect 1
func portfolio() []Item {
	return []Item{
		feature("a1", "activation", nil, 0.05, nil, verdict("a1v", Validated, day(10), 0.08)),
		feature("a2", "activation", nil, 0.05, nil, verdict("a2v", Validated, day(11), 0.05)),
		feature("a3", "activation", nil, 0.05, nil, verdict("a3v", Invalidated, day(12), 0.01)),
		feature("r1", "revenue", nil, 0.03, nil, verdict("r1v", Invalidated, day(5), -0.02)),
		feature("r2", "revenue", nil, 0.03, nil, Event{ID: "r2v", Kind: VerdictRecorded, Stage: Invalidated, At: day(6)}),
		// i1: 16 × 0.6 × 0.95 / 4 = 2.28
		feature("i1", "activation", wsjf(8, 5, 3, 4), 0.05, nil),
		// i2: 33 × 0.25 × 0.5 / 3 = 1.375 (alone it would be first: 33 × 0.5 / 3 = 5.5)
		feature("i2", "revenue", wsjf(20, 8, 5, 3), 0.05, nil, moved("i2r", Ready, day(1))),
		// i3: 12 × 0.5 × 1 / 3 = 2
		feature("i3", "retention", wsjf(10, 2, 0, 3), 0.05, nil),
		// i4: 6 × 0.5 × 1 / 1.5 = 2, ties i3; value 6 < 12 so after it
		feature("i4", "retention", wsjf(6, 0, 0, 1.5), 0.05, nil),
		// i5: 6 × 0.5 / 1.5 = 2, ties i4 in score and value: key order
		feature("i5", "retention", wsjf(4, 0, 2, 1.5), 0.05, nil),
		// i6: stated confidence 0.9: (2×0.9 + 2)/(2 + 3) = 0.76;
		//     15 × 0.76 × 0.95 / 5 = 2.166
		feature("i6", "activation", &Estimate{CostOfDelay: &CostOfDelay{5, 5, 5}, Size: 5, Confidence: new(0.9)}, 0.05, nil),
		feature("i7", "activation", nil, 0.05, nil),
		feature("i8", "retention", &Estimate{CostOfDelay: &CostOfDelay{3, 0, 0}}, 0.05, nil),
		// Building: not in the backlog whatever its estimate.
		feature("b1", "activation", wsjf(20, 20, 20, 1), 0.05, nil, ev("b1c", CommitPushed, day(3))),
	}
}

func objectives() []Objective {
	return []Objective{objective("activation", "2026-12-31"), objective("revenue", "2026-12-31"), objective("retention", "2027-03-31")}
}

func TestNextWSJF(t *testing.T) {
	n := ComputeNext(NextInput{Objectives: objectives(), Items: portfolio(), Now: day(20)})
	want := []struct {
		feature string
		score   float64
	}{{"i1", 2.28}, {"i6", 2.166}, {"i3", 2}, {"i4", 2}, {"i5", 2}, {"i2", 1.375}}
	if len(n.Ranked) != len(want) {
		t.Fatalf("ranked %d features, want %d: %+v", len(n.Ranked), len(want), n.Ranked)
	}
	for i, w := range want {
		r := n.Ranked[i]
		if r.Feature != w.feature || math.Abs(r.Score-w.score) > 1e-9 || r.Position != i+1 {
			t.Errorf("#%d: got %s %.6f (position %d), want %s %.6f", i+1, r.Feature, r.Score, r.Position, w.feature, w.score)
		}
	}
	if got, want := n.Ranked[0].Explanation, "2.28 = WSJF cost of delay 16 (8+5+3) / size 4 × confidence 0.6 = (2×0.5+2)/(2+2+1) [2 validated, 1 invalidated on activation, prior 0.5] × effect 0.95 [(1+2.8)/(1+3) measured/hoped]"; got != want {
		t.Errorf("explanation:\ngot  %s\nwant %s", got, want)
	}
	if got, want := n.Ranked[1].Explanation, "2.17 = WSJF cost of delay 15 (5+5+5) / size 5 × confidence 0.76 = (2×0.9+2)/(2+2+1) [2 validated, 1 invalidated on activation, prior 0.9 stated] × effect 0.95 [(1+2.8)/(1+3) measured/hoped]"; got != want {
		t.Errorf("explanation:\ngot  %s\nwant %s", got, want)
	}
	if got, want := n.Ranked[2].Explanation, "2 = WSJF cost of delay 12 (10+2+0) / size 3 × confidence 0.5 = (2×0.5+0)/(2+0+0) [0 validated, 0 invalidated on retention, prior 0.5] × effect 1 [no measured effect yet]"; got != want {
		t.Errorf("explanation:\ngot  %s\nwant %s", got, want)
	}
	wantUnranked := []Unranked{
		{Feature: "i7", Title: "Feature i7", Objective: "activation", Stage: Idea, Reason: "not estimated: set estimate.costOfDelay, estimate.size to rank it by WSJF", Missing: []string{"estimate.costOfDelay", "estimate.size"}},
		{Feature: "i8", Title: "Feature i8", Objective: "retention", Stage: Idea, Reason: "not estimated: set estimate.size to rank it by WSJF", Missing: []string{"estimate.size"}},
	}
	if !reflect.DeepEqual(n.Unranked, wantUnranked) {
		t.Errorf("unranked: got %+v, want %+v", n.Unranked, wantUnranked)
	}
	wantBets := []Bets{
		{Objective: "activation", Validated: 2, Invalidated: 1, Confidence: 0.6, Measured: 3, RatioSum: 2.8, Effect: 0.95},
		{Objective: "revenue", Validated: 0, Invalidated: 2, Confidence: 0.25, Measured: 1, RatioSum: 0, Effect: 0.5},
		{Objective: "retention", Confidence: 0.5, Effect: 1},
	}
	for i, w := range wantBets {
		g := n.Bets[i]
		if g.Objective != w.Objective || g.Validated != w.Validated || g.Invalidated != w.Invalidated || g.Measured != w.Measured ||
			math.Abs(g.Confidence-w.Confidence) > 1e-9 || math.Abs(g.RatioSum-w.RatioSum) > 1e-9 || math.Abs(g.Effect-w.Effect) > 1e-9 {
			t.Errorf("bets %d: got %+v, want %+v", i, g, w)
		}
	}
}

// TestNextEvidenceMovesRank: the same estimates, ranked without any verdict
// and then with verdicts, move in the direction the evidence says.
func TestNextEvidenceMovesRank(t *testing.T) {
	ideas := func(extra ...Item) []Item {
		return append([]Item{
			// Without evidence: i2 33 × 0.5 / 3 = 5.5; i1 16 × 0.5 / 4 = 2.
			feature("i1", "activation", wsjf(8, 5, 3, 4), 0.05, nil),
			feature("i2", "revenue", wsjf(20, 8, 5, 3), 0.05, nil),
		}, extra...)
	}
	order := func(items []Item) string {
		var keys []string
		for _, r := range ComputeNext(NextInput{Objectives: objectives(), Items: items}).Ranked {
			keys = append(keys, r.Feature)
		}
		return strings.Join(keys, " ")
	}
	if got := order(ideas()); got != "i2 i1" {
		t.Errorf("no evidence: got %q, want i2 i1", got)
	}
	// Revenue's bets fail four times: confidence (1+0)/(2+4) = 1/6, effect
	// (1+0)/(1+4) = 0.2: i2 = 33 × 1/6 × 0.2 / 3 = 0.367 < i1's 2.
	var fails []Item
	for _, k := range []string{"r1", "r2", "r3", "r4"} {
		fails = append(fails, feature(k, "revenue", nil, 0.05, nil, verdict(k+"v", Invalidated, day(5), -0.01)))
	}
	if got := order(ideas(fails...)); got != "i1 i2" {
		t.Errorf("revenue's bets failing: got %q, want i1 i2", got)
	}
	// Activation's one bet beats its hope threefold: confidence (1+1)/(2+1)
	// = 2/3, effect (1+3)/(1+1) = 2: i1 = 16 × 2/3 × 2 / 4 = 5.33; i2 with
	// no revenue verdict stays 5.5. A second such bet: confidence 3/4,
	// effect (1+6)/3 = 7/3: i1 = 16 × 0.75 × 7/3 / 4 = 7 > 5.5.
	beat := func(k string) Item {
		return feature(k, "activation", nil, 0.05, nil, verdict(k+"v", Validated, day(5), 0.20)) // 0.20/0.05 = 4, capped at 3
	}
	if got := order(ideas(beat("a1"))); got != "i2 i1" {
		t.Errorf("one bet beating its hope: got %q, want i2 i1", got)
	}
	if got := order(ideas(beat("a1"), beat("a2"))); got != "i1 i2" {
		t.Errorf("two bets beating their hopes: got %q, want i1 i2", got)
	}
}

func TestNextRICE(t *testing.T) {
	items := []Item{
		// 1000 × 2 × 0.6 × 0.95 / 4 = 285 (activation's record from portfolio)
		feature("i1", "activation", &Estimate{Reach: 1000, Impact: 2, Size: 4}, 0.05, nil),
		// 5000 × 0.5 × 0.5 × 1 / 2 = 625
		feature("i3", "retention", &Estimate{Reach: 5000, Impact: 0.5, Size: 2}, 0.05, nil),
		// WSJF estimate only: unranked under RICE
		feature("i4", "retention", wsjf(1, 1, 1, 1), 0.05, nil),
	}
	items = append(items, portfolio()[:5]...)
	n := ComputeNext(NextInput{Objectives: objectives(), Items: items, Method: RICE})
	if len(n.Ranked) != 2 || n.Ranked[0].Feature != "i3" || math.Abs(n.Ranked[0].Score-625) > 1e-9 ||
		n.Ranked[1].Feature != "i1" || math.Abs(n.Ranked[1].Score-285) > 1e-9 {
		t.Fatalf("got %+v, want i3 625, i1 285", n.Ranked)
	}
	if want := "285 = RICE reach 1000 × impact 2 / size 4 × confidence 0.6"; !strings.HasPrefix(n.Ranked[1].Explanation, want) {
		t.Errorf("explanation: got %q, want it to start %q", n.Ranked[1].Explanation, want)
	}
	if len(n.Unranked) != 1 || n.Unranked[0].Reason != "not estimated: set estimate.reach, estimate.impact to rank it by RICE" {
		t.Errorf("unranked: got %+v", n.Unranked)
	}
}

func TestNextDependencies(t *testing.T) {
	items := []Item{
		feature("base", "retention", wsjf(1, 1, 1, 1), 0.05, nil, ev("bc", CommitPushed, day(1))),
		feature("top", "retention", wsjf(1, 1, 1, 1), 0.05, nil),
	}
	items[1].Feature.DependsOn = []string{"base"}
	n := ComputeNext(NextInput{Objectives: objectives(), Items: items})
	if len(n.Ranked) != 1 || !reflect.DeepEqual(n.Ranked[0].WaitsFor, []string{"base"}) || !strings.HasSuffix(n.Ranked[0].Explanation, "; waits for base") {
		t.Errorf("got %+v, want top waiting for base", n.Ranked)
	}
}

func TestStopList(t *testing.T) {
	flag := func(f string) []FlagLink { return []FlagLink{{Environment: "production", Flag: f}} }
	remaining := func(n int64) *int64 { return &n }
	items := []Item{
		feature("m1", "activation", nil, 0.05, flag("m1-flag"), ev("m1x", ExperimentStarted, day(0))),
		feature("m2", "activation", nil, 0.05, flag("m2-flag"), ev("m2x", ExperimentStarted, day(0))),
		feature("a1", "activation", nil, 0.05, flag("a1-flag"), verdict("a1v", Validated, day(10), 0.08)),
		feature("a3", "activation", nil, 0.05, flag("a3-flag"), verdict("a3v", Invalidated, day(30), 0.01)),
		feature("r1", "revenue", nil, 0.05, flag("r1-flag"), verdict("r1v", Invalidated, day(5), -0.01)),
	}
	in := NextInput{Objectives: objectives(), Items: items, Now: day(40), // 2026-12-12
		Experiments: []ExperimentState{
			// 20,000 users in 40 days = 500/day; 30,000 more = 60 days; the
			// horizon 2026-12-31 is 20 days away (to the end of its day).
			{Environment: "production", Flag: "m1-flag", Started: day(0), Users: 20000, RemainingUsers: remaining(30000)},
			// 5,000 more = 10 days: in time.
			{Environment: "production", Flag: "m2-flag", Started: day(0), Users: 20000, RemainingUsers: remaining(5000)},
		},
		Flags: []FlagState{
			{Environment: "production", Flag: "m1-flag", ServesTreatment: true},
			{Environment: "production", Flag: "m2-flag", ServesTreatment: true},
			// validated 30 days ago (> 14): clean up
			{Environment: "production", Flag: "a1-flag", LastEvaluated: day(39), ServesTreatment: true},
			// invalidated 10 days ago, still serving the treatment: turn off,
			// not yet due for cleanup
			{Environment: "production", Flag: "a3-flag", LastEvaluated: day(39.5), ServesTreatment: true},
			// r1-flag absent: cleaned up already
		}}
	got := ComputeNext(in).Stop
	want := []struct{ kind, feature, reason string }{
		{StopExperiment, "m1", "experiment on m1-flag in production needs 30,000 more users: at 500 users/day (20,000 users in 40 days) that is 60 days, past the horizon 2026-12-31 (20 days left): stop it or widen it"},
		{TurnOffTreatment, "a3", "invalidated 10d ago, yet flag a3-flag in production still serves the treatment, last exposed a new user 2026-12-11 12:00 UTC (<1d ago): turn it off"},
		{CleanUpFlag, "a1", "validated 30d ago (over 14d), flag a1-flag still in production, last exposed a new user 2026-12-11 00:00 UTC (1d ago): remove it to finish"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d actions, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Kind != w.kind || got[i].Feature != w.feature || got[i].Reason != w.reason {
			t.Errorf("action %d:\ngot  %s %s %q\nwant %s %s %q", i, got[i].Kind, got[i].Feature, got[i].Reason, w.kind, w.feature, w.reason)
		}
		if got[i].Objective != "activation" { // each feature above bets on it
			t.Errorf("action %d: objective %q, want activation", i, got[i].Objective)
		}
	}
	if a := got[0]; a.UsersPerDay != 500 || a.DaysNeeded != 60 || a.RemainingUsers != 30000 {
		t.Errorf("estimate: got %v users/day, %v days, %d users; want 500, 60, 30000", a.UsersPerDay, a.DaysNeeded, a.RemainingUsers)
	}
	if !got[2].LastEvaluated.Equal(day(39)) {
		t.Errorf("last evaluated: got %v, want day 39", got[2].LastEvaluated)
	}
}

// TestStopListInconclusive: an experiment that reached its planned sample
// without a verdict will not decide by itself: its feature would stay
// measuring for ever, on no list, so the stop list asks for a decision.
// One still short of its sample, and on its way, asks nothing.
func TestStopListInconclusive(t *testing.T) {
	zero := int64(0)
	link := func(f string) []FlagLink { return []FlagLink{{Environment: "production", Flag: f}} }
	in := NextInput{Objectives: objectives(), Now: day(40),
		Items: []Item{
			feature("m1", "activation", nil, 0.05, link("m1-flag"), ev("m1x", ExperimentStarted, day(0))),
			feature("m2", "activation", nil, 0.05, link("m2-flag"), ev("m2x", ExperimentStarted, day(0))),
		},
		Experiments: []ExperimentState{
			{Environment: "production", Flag: "m1-flag", Started: day(0), Users: 20000, RemainingUsers: &zero, Inconclusive: true},
			{Environment: "production", Flag: "m2-flag", Started: day(0), Users: 20000, Inconclusive: true},
		}}
	got := ComputeNext(in).Stop
	want := []string{
		"experiment on m1-flag in production is inconclusive after its planned sample (20,000 users in 40 days): it will not decide by itself: decide by hand (valueloop feature move m1 --to validated or invalidated) or stop it",
		"experiment on m2-flag in production is inconclusive after its planned sample (20,000 users in 40 days): it will not decide by itself: decide by hand (valueloop feature move m2 --to validated or invalidated) or stop it",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d actions, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Kind != StopExperiment || got[i].Reason != w || got[i].Objective != "activation" {
			t.Errorf("action %d:\ngot  %s %q (%s)\nwant %s %q (activation)", i, got[i].Kind, got[i].Reason, got[i].Objective, StopExperiment, w)
		}
	}
}

// TestStopListOneDay: an experiment a day old, or a horizon a day away,
// said "in 1 days" and "(1 days left)".
func TestStopListOneDay(t *testing.T) {
	remaining := int64(40000)
	in := NextInput{Objectives: objectives(), Now: day(59), // the horizon 2026-12-31 ends in a day
		Items:       []Item{feature("m1", "activation", nil, 0.05, []FlagLink{{Environment: "production", Flag: "m1-flag"}}, ev("m1x", ExperimentStarted, day(58.5)))},
		Experiments: []ExperimentState{{Environment: "production", Flag: "m1-flag", Started: day(58.5), Users: 400, RemainingUsers: &remaining}}}
	got := ComputeNext(in).Stop
	want := "experiment on m1-flag in production needs 40,000 more users: at 400 users/day (400 users in 1 day) that is 100 days, past the horizon 2026-12-31 (1 day left): stop it or widen it"
	if len(got) != 1 || got[0].Reason != want {
		t.Errorf("got %+v\nwant %q", got, want)
	}
}

func TestServesVariant(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name    string
		flag    *valueloop.Flag
		variant string
		want    bool
	}{
		{"default is the treatment", &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"on": true, "off": false}, DefaultVariant: str("on")}, "on", true},
		{"default is control, no targeting", &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"on": true, "off": false}, DefaultVariant: str("off")}, "on", false},
		{"split still serves it", &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"on": true, "off": false}, DefaultVariant: str("off"),
			Targeting: []byte(`{"fractional":[["off",50],["on",50]]}`)}, "on", true},
		{"disabled serves nothing", &valueloop.Flag{State: "DISABLED", Variants: map[string]any{"on": true}, DefaultVariant: str("on")}, "on", false},
		{"any non-default variant", &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"a": 1, "b": 2}, DefaultVariant: str("a"),
			Targeting: []byte(`{"if":[true,"b",null]}`)}, "", true},
		{"only the default", &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"a": 1, "b": 2}, DefaultVariant: str("a"),
			Targeting: []byte(`{"if":[true,"a",null]}`)}, "", false},
		{"no flag", nil, "on", false},
		// A rollout rolled back leaves the treatment in its split at
		// weight 0: it serves nobody, so there is nothing to turn off.
		{"rolled back: weight 0", &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"on": true, "off": false}, DefaultVariant: str("off"),
			Targeting: []byte(`{"fractional":[["on",0],["off",10000]]}`)}, "on", false},
		{"rolled back, any treatment", &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"on": true, "off": false}, DefaultVariant: str("off"),
			Targeting: []byte(`{"fractional":[["on",0],["off",10000]]}`)}, "", false},
		{"negative weight counts as 0", &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"on": true, "off": false}, DefaultVariant: str("off"),
			Targeting: []byte(`{"fractional":[{"var":"email"},["on",-5],["off",1]]}`)}, "on", false},
		{"weight left out is 1", &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"on": true, "off": false}, DefaultVariant: str("off"),
			Targeting: []byte(`{"fractional":[["on"],["off",1]]}`)}, "on", true},
		{"weight 0 in one rule, named in another", &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"on": true, "off": false}, DefaultVariant: str("off"),
			Targeting: []byte(`{"if":[{"==":[{"var":"staff"},true]},"on",{"fractional":[["on",0],["off",1]]}]}`)}, "on", true},
		{"a rule's weight counts", &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"on": true, "off": false}, DefaultVariant: str("off"),
			Targeting: []byte(`{"fractional":[["on",{"var":"w"}],["off",1]]}`)}, "on", true},
		// The flag set's shared evaluators ($evaluators) are not at hand:
		// a rule that refers to one may serve any variant.
		{"shared evaluator", &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"on": true, "off": false}, DefaultVariant: str("off"),
			Targeting: []byte(`{"if":[{"$ref":"staff"},"off",{"$ref":"rollout"}]}`)}, "on", true},
		{"shared evaluator, any treatment", &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"on": true, "off": false}, DefaultVariant: str("off"),
			Targeting: []byte(`{"$ref":"rollout"}`)}, "", true},
	} {
		if got := ServesVariant(tc.flag, tc.variant); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestNextOnly: a filter by objective keeps that objective's ranks in their
// places in the whole backlog, its unranked features and actions, every
// record of bets, and refuses an objective the backlog does not name.
func TestNextOnly(t *testing.T) {
	full := func() *Next {
		return &Next{
			Ranked:   []Rank{{Position: 1, Feature: "a", Objective: "activation"}, {Position: 2, Feature: "b", Objective: "revenue"}, {Position: 3, Feature: "c", Objective: "activation"}},
			Unranked: []Unranked{{Feature: "d", Objective: "revenue"}, {Feature: "e"}},
			Bets:     []Bets{{Objective: "activation"}, {Objective: "retention"}},
			Stop:     []Action{{Kind: "cleanup", Feature: "f", Objective: "revenue"}},
		}
	}
	n := full()
	if got, want := n.Objectives(), []string{"activation", "retention", "revenue"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Objectives() = %v, want %v", got, want)
	}
	if err := n.Only("activation"); err != nil {
		t.Fatal(err)
	}
	if len(n.Ranked) != 2 || n.Ranked[0].Position != 1 || n.Ranked[1].Position != 3 || len(n.Unranked) != 0 || len(n.Stop) != 0 || len(n.Bets) != 2 {
		t.Errorf("Only(activation) = %+v", n)
	}
	n = full()
	if err := n.Only(""); err != nil || !reflect.DeepEqual(n, full()) {
		t.Errorf("Only(\"\") changed next: %+v, %v", n, err)
	}
	err := n.Only("growth")
	if fe := (*valueloop.Error)(nil); !errors.As(err, &fe) || fe.Field != "objective" || !strings.Contains(err.Error(), `"growth"`) || !reflect.DeepEqual(n, full()) {
		t.Errorf("Only(growth) = %v (next %+v), want a field error naming objective, next unchanged", err, n)
	}
}

// TestNextEffectMeasuredElsewhere: a verdict's effect is a ratio of the
// effect hoped for only when both are of the same metric in the same units.
// The verdict says what it measured (the flag's primary metric, relative
// or absolute); a feature hoping for +5 % of m whose flag's experiment
// measured +2 (absolute) of revenue did not beat its hope 40 times over.
func TestNextEffectMeasuredElsewhere(t *testing.T) {
	measured := func(id string, st Stage, effect float64, metric string, absolute bool) Event {
		e := verdict(id, st, day(10), effect)
		e.EffectMetric, e.EffectAbsolute = metric, absolute
		return e
	}
	for _, tc := range []struct {
		name     string
		verdict  Event
		measured int
		effect   float64
	}{
		// 0.08 / 0.05 = 1.6: effect (1+1.6)/(1+1) = 1.3.
		{"same metric and units", measured("v", Validated, 0.08, "m", false), 1, 1.3},
		{"verdict from before metrics were recorded", verdict("v", Validated, day(10), 0.08), 1, 1.3},
		{"another metric", measured("v", Validated, 2, "revenue", false), 0, 1},
		{"absolute against relative", measured("v", Validated, 2, "m", true), 0, 1},
		{"invalidated on another metric", measured("v", Invalidated, -4, "revenue", true), 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items := []Item{feature("a1", "activation", nil, 0.05, nil, tc.verdict)}
			b := ObjectiveBets(objectives(), items)["activation"]
			if b.Measured != tc.measured || math.Abs(b.Effect-tc.effect) > 1e-9 || b.Validated+b.Invalidated != 1 {
				t.Errorf("got %d measured, effect %v, %d+%d verdicts; want %d measured, effect %v, 1 verdict",
					b.Measured, b.Effect, b.Validated, b.Invalidated, tc.measured, tc.effect)
			}
		})
	}
}

// TestNextTiesByValue: scores equal in the arithmetic of the estimates are
// a tie whatever the floating point makes of them: 21 × 0.5 / 0.7 comes
// out as 15.000000000000002 and 30 × 0.5 / 1 as 15, and the higher value
// (its delay costs more) goes first, as the documented tie rule says.
func TestNextTiesByValue(t *testing.T) {
	items := []Item{
		feature("a-small", "retention", wsjf(13, 5, 3, 0.7), 0.05, nil),
		feature("b-large", "retention", wsjf(10, 10, 10, 1), 0.05, nil),
		feature("c-tiny", "retention", wsjf(3, 0, 0, 0.1), 0.05, nil),
	}
	n := ComputeNext(NextInput{Objectives: objectives(), Items: items, Now: day(20)})
	var got []string
	for _, r := range n.Ranked {
		got = append(got, r.Feature+"="+strconv.FormatFloat(r.Score, 'g', -1, 64))
	}
	if want := []string{"b-large=15", "a-small=15", "c-tiny=15"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestNextExplainsSmallSizes: a size below 0.005 is a valid estimate (down
// to 0.001); the explanation writes it with its digits, not rounded to the
// "size 0" a division cannot have come from.
func TestNextExplainsSmallSizes(t *testing.T) {
	items := []Item{feature("tiny", "retention", wsjf(1, 0, 0, 0.001), 0.05, nil)}
	n := ComputeNext(NextInput{Objectives: objectives(), Items: items, Now: day(20)})
	want := "500 = WSJF cost of delay 1 (1+0+0) / size 0.001 × confidence 0.5"
	if len(n.Ranked) != 1 || !strings.HasPrefix(n.Ranked[0].Explanation, want) {
		t.Errorf("got %+v, want an explanation starting %q", n.Ranked, want)
	}
	for x, want := range map[float64]string{0.001: "0.001", 0.0042: "0.0042", -0.003: "-0.003", 0.00001: "1e-05", 0.004999: "0.005", 0.005: "0.01", 2.5: "2.5", 0: "0"} {
		if got := num(x); got != want {
			t.Errorf("num(%v) = %q, want %q", x, got, want)
		}
	}
}

// TestStopListAbandoned: a feature abandoned while its flag still serves
// the treatment (a rollout under way, stopped by nobody) is as much to turn
// off as an invalidated one, and its flag as much to clean up: the team
// decided against it, and users still get it. An abandoned feature whose
// flag is gone, or that never had one, asks for nothing.
func TestStopListAbandoned(t *testing.T) {
	flag := func(f string) []FlagLink { return []FlagLink{{Environment: "production", Flag: f}} }
	items := []Item{
		feature("x1", "revenue", nil, 0.05, flag("x1-flag"), ev("x1r", RolloutStarted, day(1)), moved("x1a", Abandoned, day(35))),
		feature("x2", "revenue", nil, 0.05, flag("x2-flag"), ev("x2r", RolloutStarted, day(1)), moved("x2a", Abandoned, day(10))),
		feature("x3", "revenue", nil, 0.05, flag("x3-flag"), moved("x3a", Abandoned, day(10))),
		feature("x4", "revenue", nil, 0.05, nil, moved("x4a", Abandoned, day(10))),
	}
	in := NextInput{Objectives: objectives(), Items: items, Now: day(40), Flags: []FlagState{
		{Environment: "production", Flag: "x1-flag", ServesTreatment: true},
		{Environment: "production", Flag: "x2-flag"}, // turned off, not yet removed
	}}
	var got []string
	for _, a := range ComputeNext(in).Stop {
		got = append(got, a.Kind+" "+a.Feature+": "+a.Reason)
	}
	want := []string{
		"turn_off_treatment x1: abandoned 5d ago, yet flag x1-flag in production still serves the treatment, no user exposed yet: turn it off",
		"clean_up_flag x2: abandoned 30d ago (over 14d), flag x2-flag still in production, no user exposed yet: remove it to finish",
	}
	if !slices.Equal(got, want) {
		t.Errorf("stop list:\ngot  %q\nwant %q", got, want)
	}
}

// TestNextAbandonedDependency: a dependency abandoned will never be done
// or decided; the feature does not "wait for" it (that wait never ends)
// but is told to depend on an abandoned feature, to rethink.
func TestNextAbandonedDependency(t *testing.T) {
	items := []Item{
		feature("gone", "retention", nil, 0.05, nil, moved("ga", Abandoned, day(1))),
		feature("later", "retention", nil, 0.05, nil),
		feature("top", "retention", wsjf(1, 1, 1, 1), 0.05, nil),
	}
	items[2].Feature.DependsOn = []string{"gone", "later"}
	n := ComputeNext(NextInput{Objectives: objectives(), Items: items})
	if len(n.Ranked) != 1 {
		t.Fatalf("ranked %+v, want top alone", n.Ranked)
	}
	r := n.Ranked[0]
	if !slices.Equal(r.WaitsFor, []string{"later"}) || !slices.Equal(r.Abandoned, []string{"gone"}) ||
		!strings.HasSuffix(r.Explanation, "; waits for later; depends on abandoned gone: rethink it") {
		t.Errorf("got waits for %v, abandoned %v, %q", r.WaitsFor, r.Abandoned, r.Explanation)
	}
}

// TestNextTinyEstimates: the smallest positive estimates still give a
// finite score that JSON carries, and an explanation of sane length.
func TestNextTinyEstimates(t *testing.T) {
	items := []Item{
		feature("tiny", "retention", &Estimate{CostOfDelay: &CostOfDelay{UserValue: 5e-324}, Size: 1000}, 0.05, nil),
		feature("small", "retention", &Estimate{CostOfDelay: &CostOfDelay{UserValue: 1e-300}, Size: 1000}, 0.05, nil),
	}
	n := ComputeNext(NextInput{Objectives: objectives(), Items: items, Now: day(20)})
	if _, err := json.Marshal(n); err != nil {
		t.Fatalf("next does not encode: %v", err)
	}
	for _, r := range n.Ranked {
		if math.IsNaN(r.Score) || math.IsInf(r.Score, 0) || len(r.Explanation) > 400 {
			t.Errorf("%s: score %v, explanation %d bytes: %.200s", r.Feature, r.Score, len(r.Explanation), r.Explanation)
		}
	}
	if len(n.Ranked) != 2 || n.Ranked[0].Feature != "small" {
		t.Errorf("ranked %+v, want small first", n.Ranked)
	}
}

// TestNextTiesByValueRounded: the tie rule's second key, the value, is
// compared as the score is, to 12 significant digits: a cost of delay of
// 0.1 + 0.2 is the 0.3 of another feature, not 0.30000000000000004 above
// it, and equal scores and values leave the order to the key.
func TestNextTiesByValueRounded(t *testing.T) {
	items := []Item{
		feature("a-whole", "retention", wsjf(0.3, 0, 0, 1), 0.05, nil),
		feature("b-parts", "retention", wsjf(0.1, 0.2, 0, 1), 0.05, nil),
	}
	n := ComputeNext(NextInput{Objectives: objectives(), Items: items, Now: day(20)})
	var got []string
	for _, r := range n.Ranked {
		got = append(got, r.Feature)
	}
	if want := []string{"a-whole", "b-parts"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v (equal scores and values: by key)", got, want)
	}
}

// TestNextEffectCapShown: a measured effect beyond three times its hope
// counts as 3, and the rank's line says so; the demo's "(1+3)/(1+1)
// measured/hoped" beside "+21.9%" of a hoped +5% left a newcomer to guess
// where the 3 came from.
func TestNextEffectCapShown(t *testing.T) {
	items := []Item{
		feature("a1", "activation", nil, 0.05, nil, verdict("a1v", Validated, day(10), 0.219)),
		feature("i1", "activation", wsjf(5, 2, 1, 2), 0.05, nil),
	}
	n := ComputeNext(NextInput{Objectives: objectives(), Items: items, Now: day(20)})
	if len(n.Ranked) != 1 {
		t.Fatalf("ranked %+v, want i1", n.Ranked)
	}
	if got, want := n.Ranked[0].Explanation, "5.33 = WSJF cost of delay 8 (5+2+1) / size 2 × confidence 0.67 = (2×0.5+1)/(2+1+0) [1 validated, 0 invalidated on activation, prior 0.5] × effect 2 [(1+3)/(1+1) measured/hoped, 1 capped at 3]"; got != want {
		t.Errorf("explanation:\ngot  %s\nwant %s", got, want)
	}
}

// TestNextVerdictNotTrusted: a verdict whose experiment now shows a sample
// ratio mismatch counts in no record of bets, neither way: the experiment's
// assignment or logging is broken and none of its numbers can be trusted.
// A validated +16 % against a hoped +5 % raised the objective's confidence
// to 2/3 and its effect to 2 after the mismatch blocked the experiment. A
// verdict invalidated because a guardrail was harmed counts a ratio of 0
// whatever its primary metric did (its treatment does not ship): its +16 %
// raised the effect factor to 2, so that a failed bet raised the ranks
// of its objective's ideas.
func TestNextVerdictNotTrusted(t *testing.T) {
	harmed := verdict("v", Invalidated, day(10), 0.16)
	harmed.Code = experiment.CodeGuardrailBreached
	below := verdict("v", Invalidated, day(10), 0.01)
	below.Code = experiment.CodeBelowMinimum
	for _, tc := range []struct {
		name                               string
		verdict                            Event
		mismatch                           bool
		validated, invalidated, mismatched int
		confidence, effect                 float64
		explains                           string
	}{
		{"validated", verdict("v", Validated, day(10), 0.16), false, 1, 0, 0, 2.0 / 3, 2, "(1+3)/(1+1) measured/hoped, 1 capped at 3"},
		{"validated, then a mismatch", verdict("v", Validated, day(10), 0.16), true, 0, 0, 1, 0.5, 1, "1 verdict not counted: sample ratio mismatch"},
		{"invalidated, then a mismatch", below, true, 0, 0, 1, 0.5, 1, "no measured effect yet"},
		// (1+0)/(1+1) = 0.5 and (2·0.5+0)/(2+0+1) = 1/3: both factors fall.
		{"invalidated by a guardrail", harmed, false, 0, 1, 0, 1.0 / 3, 0.5, "(1+0)/(1+1) measured/hoped, 1 harmed a guardrail: 0"},
		// 0.01 / 0.05 = 0.2: (1+0.2)/(1+1) = 0.6.
		{"invalidated below the minimum", below, false, 0, 1, 0, 1.0 / 3, 0.6, "(1+0.2)/(1+1) measured/hoped]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := feature("a1", "activation", nil, 0.05, nil, tc.verdict)
			it.SampleRatioMismatch = tc.mismatch
			idea := feature("i1", "activation", wsjf(8, 5, 3, 4), 0.05, nil)
			n := ComputeNext(NextInput{Objectives: objectives(), Items: []Item{it, idea}, Now: day(20)})
			b := n.Bets[0]
			if b.Validated != tc.validated || b.Invalidated != tc.invalidated || b.Mismatched != tc.mismatched ||
				math.Abs(b.Confidence-tc.confidence) > 1e-9 || math.Abs(b.Effect-tc.effect) > 1e-9 {
				t.Errorf("bets %+v; want %d validated, %d invalidated, %d mismatched, confidence %v, effect %v",
					b, tc.validated, tc.invalidated, tc.mismatched, tc.confidence, tc.effect)
			}
			if len(n.Ranked) != 1 || !strings.Contains(n.Ranked[0].Explanation, tc.explains) {
				t.Errorf("ranked %+v; want a line saying %q", n.Ranked, tc.explains)
			}
			// The record's own words (next's table, the dashboard) say
			// what was left out, not "0 validated, 0 invalidated" alone.
			want := fmt.Sprintf("%d validated, %d invalidated", tc.validated, tc.invalidated)
			if tc.mismatched > 0 {
				want += "; 1 verdict not counted: sample ratio mismatch"
			}
			if got := b.Verdicts(); got != want {
				t.Errorf("verdicts %q, want %q", got, want)
			}
		})
	}
}

// TestUnrankedCommand: every field rank may find missing, by either
// method, has its flag in the command that sets it, so the CLI and the
// dashboard never fall back to the value file's names alone.
func TestUnrankedCommand(t *testing.T) {
	for _, m := range []Method{WSJF, RICE} {
		_, missing := rank(m, &Feature{Key: "k"}, &Bets{})
		u := Unranked{Feature: "k", Missing: missing}
		if len(missing) == 0 || u.Command() == "" {
			t.Errorf("%s: missing %v has no command", m, missing)
		}
	}
	u := Unranked{Feature: "k", Missing: []string{"estimate.costOfDelay", "estimate.size"}}
	if got, want := u.Command(), "valueloop feature set k --user-value N --time-criticality N --risk-reduction N --size N"; got != want {
		t.Errorf("command %q, want %q", got, want)
	}
	if got := (Unranked{Feature: "k", Missing: []string{"estimate.other"}}).Command(); got != "" {
		t.Errorf("an unknown field gave the command %q", got)
	}
}
