package experiment

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/ingest"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/stats"
)

// TestSplitInAConditionServesNobody: a fractional split in an "if"'s
// condition only picks a branch (pilot organisations here); the split the
// flag serves is the one in a branch. Taken for the flag's split, the
// condition's weights named arms nobody was served (pilot, rest) and, as
// a split no branch disagrees with, passed the sample-ratio check's
// "known weights" test.
func TestSplitInAConditionServesNobody(t *testing.T) {
	const targeting = `{"if":[{"==":[{"fractional":[{"var":"org"},["pilot",20],["rest",80]]},"pilot"]},{"fractional":[["control",90],["treatment",10]]},"control"]}`
	if w, ok := FractionalSplit([]byte(targeting)); !ok || w["control"] != 90 || w["treatment"] != 10 || len(w) != 2 {
		t.Errorf("FractionalSplit = %v, %v; want the branch's control 90, treatment 10", w, ok)
	}
	ms := testMetrics()
	f := testFlag()
	f.Targeting = []byte(targeting)
	lopsided := []arm{{name: "control", users: 900, signup: 0.3}, {name: "treatment", users: 100, signup: 0.3}}
	res, err := Analyze(Input{Flag: "onboarding", Definition: f, Metrics: ms, Aggregates: simulate(t, 3, "onboarding", ms, lopsided), Settings: DefaultSettings()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Variants) != 2 || res.Variants[0].Name != "control" || res.Variants[1].Name != "treatment" {
		t.Fatalf("variants %+v, want control and treatment, the branch's split", res.Variants)
	}
	if res.SRM.Status != stats.OK || res.SRM.Mismatch {
		t.Errorf("SRM = %+v, want checked against 90/10 and passing", res.SRM)
	}
	// Only in a condition, there is no split serving anyone.
	cond := testFlag()
	cond.Targeting = []byte(`{"if":[{"==":[{"fractional":[["pilot",50],["rest",50]]},"pilot"]},"treatment","control"]}`)
	if w, ok := FractionalSplit(cond.Targeting); ok {
		t.Errorf("FractionalSplit of a split in a condition only = %v; want none", w)
	}
	res, err = Analyze(Input{Flag: "onboarding", Definition: cond, Metrics: ms, Aggregates: simulate(t, 3, "onboarding", ms, lopsided), Settings: DefaultSettings()})
	if err != nil {
		t.Fatal(err)
	}
	if res.SRM.Status != stats.NotApplicable || !strings.Contains(res.SRM.Reason, "no fractional split") {
		t.Errorf("SRM = %+v, want not applicable: no split serves anyone", res.SRM)
	}
}

// TestSRMOneMergedPeriodWithSplitsThatDisagree: the versions of a flag
// whose first split kept its shares make one period; when one of them had
// splits that disagree, that period's weights are not its users' expected
// shares (SplitPeriod.Unknown), also when all its users fall in it and the
// result is not analysed period by period. Judged by the flag's current
// definition alone, the check tested users half of whom a 50/50 split
// assigned against 80/20.
func TestSRMOneMergedPeriodWithSplitsThatDisagree(t *testing.T) {
	ms := testMetrics()
	mixed, ruled := testFlag(), testFlag()
	mixed.Targeting = []byte(`{"if":[{"ends_with":[{"var":"email"},"@x.dev"]},{"fractional":[["control",80],["treatment",20]]},{"fractional":[["control",50],["treatment",50]]}]}`)
	ruled.Targeting = []byte(`{"if":[{"ends_with":[{"var":"email"},"@x.dev"]},"treatment",{"fractional":[["control",80],["treatment",20]]}]}`)
	splits := SplitHistory([]FlagVersion{{Flag: mixed}, {At: time.UnixMilli(1_767_300_000_000), Flag: ruled}})
	if len(splits) != 1 || splits[0].Unknown == "" {
		t.Fatalf("split history = %+v, want one period whose weights are unknown", splits)
	}
	users := []arm{{name: "control", users: 650, signup: 0.3}, {name: "treatment", users: 350, signup: 0.3}}
	res, err := Analyze(Input{Flag: "onboarding", Definition: ruled, Metrics: ms, Aggregates: simulate(t, 3, "onboarding", ms, users), Splits: splits, Settings: DefaultSettings()})
	if err != nil {
		t.Fatal(err)
	}
	if res.SRM.Status != stats.NotApplicable || res.SRM.Reason != splits[0].Unknown {
		t.Errorf("SRM = %+v, want not applicable: %s", res.SRM, splits[0].Unknown)
	}
	// Weights given in the settings are still tested.
	s := DefaultSettings()
	s.Weights = map[string]float64{"control": 65, "treatment": 35}
	res, err = Analyze(Input{Flag: "onboarding", Definition: ruled, Metrics: ms, Aggregates: simulate(t, 3, "onboarding", ms, users), Splits: splits, Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	if res.SRM.Status != stats.OK {
		t.Errorf("SRM with weights given = %+v, want checked", res.SRM)
	}
}

// TestSRMAfterTheSplitChanged: every user so far was exposed under the
// first split (95/5), and the split changed since (a rollout step to 50/50)
// before anyone was exposed under the new one. They are checked, and
// weighed, against the split they were assigned by, not the flag's split
// now: tested against 50/50, 1,900 against 100 was a certain mismatch.
// When their split served only control (the rollout had not started), the
// check has no ratio to test.
func TestSRMAfterTheSplitChanged(t *testing.T) {
	ms := testMetrics()
	t1 := int64(1_767_300_000_000)
	now := rolloutFlag()
	now.Targeting = []byte(`{"fractional":[["control",50],["treatment",50]]}`)
	cases := []struct {
		name    string
		first   map[string]float64
		arms    []arm
		status  stats.Status
		reason  string
		weights map[string]float64
	}{
		{"assigned 95/5", map[string]float64{"control": 95, "treatment": 5},
			[]arm{{name: "control", users: 1900, signup: 0.3}, {name: "treatment", users: 100, signup: 0.3}}, stats.OK, "", map[string]float64{"control": 95, "treatment": 5}},
		{"before the rollout", map[string]float64{"control": 1},
			[]arm{{name: "control", users: 1000, signup: 0.3}}, stats.NotApplicable, "serves only control", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			aggs, splits := rolloutAggregates(t, ms, []rolloutPeriod{{0, c.first, c.arms}, {t1, map[string]float64{"control": 50, "treatment": 50}, nil}})
			res, err := Analyze(Input{Flag: "onboarding", Definition: now, Metrics: ms, Aggregates: aggs, Splits: splits, Settings: DefaultSettings()})
			if err != nil {
				t.Fatal(err)
			}
			if res.SRM.Status != c.status || res.SRM.Mismatch || !strings.Contains(res.SRM.Reason, c.reason) {
				t.Errorf("SRM = %+v, want %s (%q)", res.SRM, c.status, c.reason)
			}
			if len(res.Variants) != 2 || res.Variants[0].Name != "control" || res.Variants[1].Name != "treatment" {
				t.Fatalf("variants = %+v, want control and treatment", res.Variants)
			}
			for _, v := range res.Variants {
				if w, ok := c.weights[v.Name]; ok && math.Abs(v.Weight-w) > 1e-9 {
					t.Errorf("%s weight = %v, want %v (the users' split)", v.Name, v.Weight, w)
				}
			}
		})
	}
}

// TestNoRandomisedUsersAfterTheSplitChanged: the ingestion keeps a cell of
// 0 users for a variant whose users were all served outside the split (a
// rule's staff) or excluded since (they saw two variants), beside the
// outside and excluded counts. Those cells are no users of a period: a
// flag whose split changed since is not analysed by period for them, and
// a period with none of them is not one of its periods. Counted as users,
// they made Analyze refuse the result ("the flag's split history serves 0
// variant(s) to the users exposed: set the weights") where it has 0 users,
// or users of a first split serving one variant only.
func TestNoRandomisedUsersAfterTheSplitChanged(t *testing.T) {
	ms := testMetrics()
	const t0, t1 = int64(1_767_225_600_000), int64(1_767_300_000_000)
	exposure := func(id, key, variant string, at int64, outside bool) ingest.Event {
		return ingest.Event{ID: id, Type: ingest.Exposure, Flag: "onboarding", Variant: variant, TargetingKey: key, Time: at, TimeSet: true, OutsideSplit: outside}
	}
	var staff, excluded, before []ingest.Event
	for i := range 50 {
		staff = append(staff, exposure(fmt.Sprint("s", i), fmt.Sprint("staff-", i), "staff", t1+int64(i), true))
		before = append(before, exposure(fmt.Sprint("b", i), fmt.Sprint("user-", i), "control", t0+int64(i), false))
	}
	excluded = []ingest.Event{exposure("x1", "both", "control", t0, false), exposure("x2", "both", "treatment", t0+1, false)}
	staffBefore := slices.Clone(staff)
	for i := range staffBefore {
		staffBefore[i].Time -= t1 - t0
	}
	fiftyFifty := map[string]float64{"control": 50, "treatment": 50}
	cases := []struct {
		name     string
		first    map[string]float64
		events   []ingest.Event
		users    int64
		excluded int64
		outside  int64
	}{
		{"served outside the split", fiftyFifty, staffBefore, 0, 0, 50},
		{"excluded", fiftyFifty, excluded, 0, 1, 0},
		{"outside the split in the period since", map[string]float64{"control": 1}, append(slices.Clone(before), staff...), 50, 0, 50},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			aggs, _, err := ingest.RecomputePeriods(ms, map[string][]int64{"onboarding": {t1}}, ingest.ScanEvents(c.events))
			if err != nil {
				t.Fatal(err)
			}
			var all, outside []metric.Aggregate
			for _, a := range aggs {
				if a.Dimension == metric.OutsideDimension {
					outside = append(outside, a)
				} else {
					all = append(all, a)
				}
			}
			splits := []SplitPeriod{{Weights: c.first, Ruled: true}, {Start: t1, Weights: fiftyFifty, Ruled: true}}
			res, err := Analyze(Input{Flag: "onboarding", Definition: testFlag(), Metrics: ms, Aggregates: all, Outside: outside, Splits: splits, Settings: DefaultSettings()})
			if err != nil {
				t.Fatalf("Analyze: %v, want a result of %d user(s)", err, c.users)
			}
			if res.Users != c.users || res.Excluded != c.excluded || res.OutsideSplit != c.outside {
				t.Errorf("users %d, excluded %d, outside the split %d; want %d, %d, %d", res.Users, res.Excluded, res.OutsideSplit, c.users, c.excluded, c.outside)
			}
			if len(res.Periods) != 0 {
				t.Errorf("periods = %+v, want none (no period has users in two arms' split)", res.Periods)
			}
		})
	}
}
