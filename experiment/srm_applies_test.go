package experiment

import (
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/stats"
)

// TestSRMOnlyAgainstAKnownSplit: the sample-ratio check compares the
// randomised users with the shares the flag's split gives them. Users a
// rule serves are recorded outside the split and are not among them, so a
// rule around the split leaves its weights testable; where no weights say
// what the shares are (the flag disabled, no fractional split, splits that
// weigh the variants differently, a computed split, a shared evaluator),
// the check does not apply and says why, rather than raising a false alarm
// against equal weights (the demo's disabled banner, whose users all saw
// one variant). A mismatch on a flag whose rule may serve a variant of the
// split points at users recorded as randomised.
func TestSRMOnlyAgainstAKnownSplit(t *testing.T) {
	ms := testMetrics()
	lopsided := []arm{{name: "control", users: 900, signup: 0.3}, {name: "treatment", users: 100, signup: 0.3}}
	const staff = `{"ends_with":[{"var":"email"},"@x.dev"]}`
	for _, tc := range []struct {
		name      string
		state     string
		targeting string
		arms      []arm
		weights   map[string]float64
		// checked: the SRM is computed (Status ok), else not applicable;
		// mismatch: it flags one. reason: what SRM.Reason says.
		checked, mismatch bool
		reason            string
	}{
		{name: "disabled, everyone on one variant", state: valueloop.StateDisabled,
			arms: []arm{{name: "treatment", users: 4000, signup: 0.3}}, reason: "the flag is disabled"},
		{name: "targeting rule without a split", targeting: `{"if":[` + staff + `,"treatment",null]}`,
			arms: lopsided, reason: "has no fractional split"},
		{name: "no targeting at all", arms: lopsided, reason: "has no fractional split"},
		{name: "rule may give a variant of the split, 90/10 as configured", targeting: `{"if":[` + staff + `,"treatment",{"fractional":[["control",90],["treatment",10]]}]}`,
			arms: lopsided, checked: true},
		{name: "rule may give a variant of the split, 50/50 broken", targeting: `{"if":[` + staff + `,"treatment",{"fractional":[["control",50],["treatment",50]]}]}`,
			arms: lopsided, checked: true, mismatch: true, reason: "count as randomised"},
		{name: "rule without else gives the default, a variant of the split", targeting: `{"if":[` + staff + `,{"fractional":[["control",50],["treatment",50]]}]}`,
			arms: lopsided, checked: true, mismatch: true, reason: "count as randomised"},
		{name: "computed result beside the split", targeting: `{"if":[true,{"var":"v"},{"fractional":[["control",50],["treatment",50]]}]}`,
			arms: lopsided, checked: true, mismatch: true, reason: "count as randomised"},
		{name: "two splits with the same weights", targeting: `{"if":[` + staff + `,{"fractional":[["control",90],["treatment",10]]},{"fractional":[{"var":"org"},["control",9],["treatment",1]]}]}`,
			arms: lopsided, checked: true},
		{name: "a second split with the same shares of the analysed variants", targeting: `{"if":[` + staff + `,{"fractional":[["control",90],["treatment",10]]},{"fractional":[["control",45],["treatment",5],["beta",50]]}]}`,
			arms: lopsided, checked: true},
		{name: "a second split serving none of the analysed variants", targeting: `{"if":[` + staff + `,{"fractional":[["control",90],["treatment",10]]},{"fractional":[["beta",50],["gamma",50]]}]}`,
			arms: lopsided, checked: true},
		{name: "two splits with different weights", targeting: `{"if":[` + staff + `,{"fractional":[["control",50],["treatment",50]]},{"fractional":[["control",90],["treatment",10]]}]}`,
			arms: lopsided, reason: "weigh the variants differently"},
		{name: "a second split serving one of the analysed variants only", targeting: `{"if":[` + staff + `,{"fractional":[["control",90],["treatment",10]]},{"fractional":[["control",50],["beta",50]]}]}`,
			arms: lopsided, reason: "weigh the variants differently"},
		{name: "a computed split", targeting: `{"if":[` + staff + `,{"fractional":[[{"var":"v"},50],["treatment",50]]},{"fractional":[["control",90],["treatment",10]]}]}`,
			arms: lopsided, reason: "computes its variants or weights"},
		{name: "a shared evaluator in a condition, as the demo's", targeting: `{"if":[{"or":[{"$ref":"staff"},{"in":[{"var":"country"},["NZ"]]}]},"treatment",{"fractional":[["control",90],["treatment",10]]}]}`,
			arms: lopsided, checked: true},
		{name: "a shared evaluator as a result", targeting: `{"if":[` + staff + `,{"$ref":"beta"},{"fractional":[["control",90],["treatment",10]]}]}`,
			arms: lopsided, reason: "shared evaluator"},
		{name: "a split under another operator counts", targeting: `{"if":[` + staff + `,{"cat":[{"fractional":[["control",50],["treatment",50]]}]},{"fractional":[["control",90],["treatment",10]]}]}`,
			arms: lopsided, reason: "weigh the variants differently"},
		{name: "split alone, 90/10 as configured", targeting: `{"fractional":[["control",90],["treatment",10]]}`,
			arms: lopsided, checked: true},
		{name: "split alone, 50/50 broken: no rule to blame", targeting: `{"fractional":[["control",50],["treatment",50]]}`,
			arms: lopsided, checked: true, mismatch: true},
		{name: "rule to a variant outside the split: no rule to blame", targeting: `{"if":[` + staff + `,"staff",{"fractional":[["control",50],["treatment",50]]}]}`,
			arms: lopsided, checked: true, mismatch: true},
		{name: "weights given are tested, even on a disabled flag", state: valueloop.StateDisabled,
			arms: lopsided, weights: map[string]float64{"control": 50, "treatment": 50}, checked: true, mismatch: true, reason: "weights given in the analysis settings"},
		// Weights given in the settings may be what is wrong: a rule is not
		// blamed for their mismatch, the given weights are named.
		{name: "weights given on a flag whose rule may serve a variant of the split", targeting: `{"if":[` + staff + `,"treatment",{"fractional":[["control",50],["treatment",50]]}]}`,
			arms: lopsided, weights: map[string]float64{"control": 50, "treatment": 50}, checked: true, mismatch: true, reason: "weights given in the analysis settings"},
		{name: "weights given on a flag with a split alone", targeting: `{"fractional":[["control",50],["treatment",50]]}`,
			arms: lopsided, weights: map[string]float64{"control": 50, "treatment": 50}, checked: true, mismatch: true, reason: "weights given in the analysis settings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testFlag()
			f.State, f.Targeting = tc.state, []byte(tc.targeting)
			if f.State == "" {
				f.State = valueloop.StateEnabled
			}
			s := DefaultSettings()
			s.Weights = tc.weights
			res, err := Analyze(Input{Flag: "onboarding", Definition: f, Metrics: ms, Aggregates: simulate(t, 3, "onboarding", ms, tc.arms), Settings: s})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.SRM.Status == stats.OK; got != tc.checked || res.SRM.Mismatch != tc.mismatch {
				t.Fatalf("SRM = %+v, want checked %v, mismatch %v", res.SRM, tc.checked, tc.mismatch)
			}
			if !tc.checked && res.SRM.Status != stats.NotApplicable {
				t.Errorf("SRM status %q, want not_applicable", res.SRM.Status)
			}
			if tc.reason == "" && res.SRM.Reason != "" || !strings.Contains(res.SRM.Reason, tc.reason) || strings.Contains(tc.reason, "settings") && strings.Contains(res.SRM.Reason, "targeting rule") {
				t.Errorf("SRM reason %q, want %q", res.SRM.Reason, tc.reason)
			}
		})
	}
}

// TestSRMInRuledPeriod: a period in which a targeting rule may give users
// a variant of the split is tested against its split's weights (the rule's
// users are recorded outside the split), and a mismatch there points at
// users recorded as randomised; a period whose splits weigh the variants
// differently is not tested, even when only one version of the flag it
// spans has them.
func TestSRMInRuledPeriod(t *testing.T) {
	ms := testMetrics()
	const t1 = int64(1_767_300_000_000)
	alone, ruled, mixed := testFlag(), testFlag(), testFlag()
	alone.Targeting = []byte(`{"fractional":[["control",50],["treatment",50]]}`)
	ruled.Targeting = []byte(`{"if":[{"ends_with":[{"var":"email"},"@x.dev"]},"treatment",{"fractional":[["control",80],["treatment",20]]}]}`)
	mixed.Targeting = []byte(`{"if":[{"ends_with":[{"var":"email"},"@x.dev"]},{"fractional":[["control",80],["treatment",20]]},{"fractional":[["control",50],["treatment",50]]}]}`)
	for _, tc := range []struct {
		name    string
		then    []*valueloop.Flag // the versions of the second period
		users   [2]int            // its control and treatment users
		checked bool
		reason  string
	}{
		{"as configured", []*valueloop.Flag{ruled}, [2]int{960, 240}, true, ""},
		{"rule users recorded as randomised", []*valueloop.Flag{ruled}, [2]int{900, 300}, true, "count as randomised"},
		{"splits that disagree", []*valueloop.Flag{ruled, mixed}, [2]int{960, 240}, false, "weigh the variants differently"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			aggs, _ := rolloutAggregates(t, ms, []rolloutPeriod{
				{0, nil, []arm{{name: "control", users: 500, signup: 0.3}, {name: "treatment", users: 500, signup: 0.3}}},
				{t1, nil, []arm{{name: "control", users: tc.users[0], signup: 0.3}, {name: "treatment", users: tc.users[1], signup: 0.3}}},
			})
			versions := []FlagVersion{{Flag: alone}}
			for i, f := range tc.then {
				versions = append(versions, FlagVersion{At: time.UnixMilli(t1 + int64(i)), Flag: f})
			}
			splits := SplitHistory(versions)
			if len(splits) != 2 || splits[0].Ruled || !splits[1].Ruled {
				t.Fatalf("split history = %+v, want the second period ruled", splits)
			}
			res, err := Analyze(Input{Flag: "onboarding", Definition: tc.then[len(tc.then)-1], Metrics: ms, Aggregates: aggs, Splits: splits, Settings: DefaultSettings()})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Periods) != 2 {
				t.Fatalf("%d periods, want 2", len(res.Periods))
			}
			if p := res.Periods[0].SRM; p.Status != stats.OK || p.Mismatch {
				t.Errorf("first period SRM = %+v, want checked, no mismatch", p)
			}
			p := res.Periods[1].SRM
			mismatch := tc.checked && tc.reason != ""
			if (p.Status == stats.OK) != tc.checked || p.Mismatch != mismatch || !strings.Contains(p.Reason, tc.reason) || tc.reason == "" && p.Reason != "" {
				t.Errorf("ruled period SRM = %+v, want checked %v, mismatch %v, reason %q", p, tc.checked, mismatch, tc.reason)
			}
			if res.SRM.Status != stats.OK || res.SRM.Mismatch != mismatch || mismatch && res.SRM.Reason != p.Reason {
				t.Errorf("overall SRM = %+v, want checked (the first period is), mismatch %v, the ruled period's reason", res.SRM, mismatch)
			}
		})
	}
}

// TestSRMNotApplicableInPeriod: a period whose split serves fewer than two
// variants (the flag disabled, a 0% or 100% step) has no ratio to test,
// and more users would not give it one: its check is not_applicable with
// the reason, as a disabled flag's overall check is, not not_enough_data
// as if it were waiting for users.
func TestSRMNotApplicableInPeriod(t *testing.T) {
	ms := testMetrics()
	const t1 = int64(1_767_300_000_000)
	even := []arm{{name: "control", users: 500, signup: 0.3}, {name: "treatment", users: 500, signup: 0.3}}
	split := testFlag()
	split.Targeting = []byte(`{"fractional":[["control",50],["treatment",50]]}`)
	disabled, all := testFlag(), testFlag()
	disabled.State = valueloop.StateDisabled
	all.Targeting = []byte(`{"fractional":[["control",0],["treatment",100]]}`)
	for _, tc := range []struct {
		name   string
		then   *valueloop.Flag
		arms   []arm
		reason string
	}{
		{"disabled", disabled, []arm{{name: "control", users: 400, signup: 0.3}}, "the flag was disabled"},
		{"100% step", all, []arm{{name: "treatment", users: 400, signup: 0.3}}, "serves only treatment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			aggs, _ := rolloutAggregates(t, ms, []rolloutPeriod{{0, nil, even}, {t1, nil, tc.arms}})
			splits := SplitHistory([]FlagVersion{{Flag: split}, {At: time.UnixMilli(t1), Flag: tc.then}})
			res, err := Analyze(Input{Flag: "onboarding", Definition: tc.then, Metrics: ms, Aggregates: aggs, Splits: splits, Settings: DefaultSettings()})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Periods) != 2 {
				t.Fatalf("%d periods, want 2", len(res.Periods))
			}
			if p := res.Periods[0].SRM; p.Status != stats.OK {
				t.Errorf("first period SRM = %+v, want checked", p)
			}
			if p := res.Periods[1].SRM; p.Status != stats.NotApplicable || !strings.Contains(p.Reason, tc.reason) {
				t.Errorf("second period SRM = %+v, want not_applicable saying %q", p, tc.reason)
			}
			if res.SRM.Status != stats.OK {
				t.Errorf("overall SRM = %+v, want the checked period's", res.SRM)
			}
		})
	}
}

// TestSRMRuleBlamedOnlyWhereItMismatches: with several periods, the
// overall reason names rule users only when a period that mismatches has a
// rule that may serve a variant of its split, not when the ruled period is
// one that passes or one no user was exposed in.
func TestSRMRuleBlamedOnlyWhereItMismatches(t *testing.T) {
	ms := testMetrics()
	const t1 = int64(1_767_300_000_000)
	alone, ruled := testFlag(), testFlag()
	alone.Targeting = []byte(`{"fractional":[["control",50],["treatment",50]]}`)
	ruled.Targeting = []byte(`{"if":[{"ends_with":[{"var":"email"},"@x.dev"]},"treatment",{"fractional":[["control",80],["treatment",20]]}]}`)
	for _, tc := range []struct {
		name          string
		first, second [2]int // control and treatment users per period
		reason        string
	}{
		{"the split alone mismatches, the ruled period passes", [2]int{700, 300}, [2]int{960, 240}, ""},
		{"the ruled period mismatches", [2]int{500, 500}, [2]int{900, 300}, "count as randomised"},
		{"both mismatch", [2]int{700, 300}, [2]int{900, 300}, "count as randomised"},
		// No user in the ruled period: the result is not analysed by period,
		// and the rule added after its users were exposed is not to blame.
		{"all users before the rule was added", [2]int{700, 300}, [2]int{0, 0}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			periods := []rolloutPeriod{{0, nil, []arm{{name: "control", users: tc.first[0], signup: 0.3}, {name: "treatment", users: tc.first[1], signup: 0.3}}}}
			if tc.second != [2]int{} {
				periods = append(periods, rolloutPeriod{t1, nil, []arm{{name: "control", users: tc.second[0], signup: 0.3}, {name: "treatment", users: tc.second[1], signup: 0.3}}})
			}
			aggs, _ := rolloutAggregates(t, ms, periods)
			splits := SplitHistory([]FlagVersion{{Flag: alone}, {At: time.UnixMilli(t1), Flag: ruled}})
			res, err := Analyze(Input{Flag: "onboarding", Definition: ruled, Metrics: ms, Aggregates: aggs, Splits: splits, Settings: DefaultSettings()})
			if err != nil {
				t.Fatal(err)
			}
			if !res.SRM.Mismatch {
				t.Fatalf("overall SRM = %+v, want a mismatch", res.SRM)
			}
			if tc.reason == "" && res.SRM.Reason != "" || !strings.Contains(res.SRM.Reason, tc.reason) {
				t.Errorf("overall SRM reason %q, want %q", res.SRM.Reason, tc.reason)
			}
		})
	}
}
