package experiment

import (
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/stats"
)

// TestSRMOnlyAgainstAKnownSplit: the sample-ratio check compares the users
// with the shares the flag actually gives them. Where no weights say that
// (the flag disabled, no fractional split, a rule that may hand out a
// variant of the split), the check does not apply and says why, rather
// than raising a false alarm against equal weights (the demo's disabled
// banner, whose users all saw one variant).
func TestSRMOnlyAgainstAKnownSplit(t *testing.T) {
	ms := testMetrics()
	lopsided := []arm{{name: "control", users: 900, signup: 0.3}, {name: "treatment", users: 100, signup: 0.3}}
	for _, tc := range []struct {
		name      string
		state     string
		targeting string
		arms      []arm
		weights   map[string]float64
		// checked: the SRM is computed (Status ok), else not applicable
		// for the reason given; mismatch: it flags one.
		checked, mismatch bool
		reason            string
	}{
		{name: "disabled, everyone on one variant", state: valueloop.StateDisabled,
			arms: []arm{{name: "treatment", users: 4000, signup: 0.3}}, reason: "the flag is disabled"},
		{name: "targeting rule without a split", targeting: `{"if":[{"ends_with":[{"var":"email"},"@x.dev"]},"treatment",null]}`,
			arms: lopsided, reason: "has no fractional split"},
		{name: "no targeting at all", arms: lopsided, reason: "has no fractional split"},
		{name: "rule may give a variant of the split", targeting: `{"if":[{"ends_with":[{"var":"email"},"@x.dev"]},"treatment",{"fractional":[["control",50],["treatment",50]]}]}`,
			arms: lopsided, reason: "targeting rule may give some users a variant"},
		{name: "rule without else gives the default, a variant of the split", targeting: `{"if":[{"ends_with":[{"var":"email"},"@x.dev"]},{"fractional":[["control",50],["treatment",50]]}]}`,
			arms: lopsided, reason: "targeting rule may give some users a variant"},
		{name: "computed result", targeting: `{"if":[true,{"var":"v"},{"fractional":[["control",50],["treatment",50]]}]}`,
			arms: lopsided, reason: "targeting rule may give some users a variant"},
		{name: "split alone, 90/10 as configured", targeting: `{"fractional":[["control",90],["treatment",10]]}`,
			arms: lopsided, checked: true},
		{name: "split alone, 50/50 broken", targeting: `{"fractional":[["control",50],["treatment",50]]}`,
			arms: lopsided, checked: true, mismatch: true},
		{name: "rule to a variant outside the split", targeting: `{"if":[{"ends_with":[{"var":"email"},"@x.dev"]},"staff",{"fractional":[["control",50],["treatment",50]]}]}`,
			arms: lopsided, checked: true, mismatch: true},
		{name: "weights given are tested, even on a disabled flag", state: valueloop.StateDisabled,
			arms: lopsided, weights: map[string]float64{"control": 50, "treatment": 50}, checked: true, mismatch: true},
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
			if !tc.checked && (res.SRM.Status != stats.NotApplicable || !strings.Contains(res.SRM.Reason, tc.reason)) {
				t.Errorf("SRM reason %q, want it to say the check does not apply: %q", res.SRM.Reason, tc.reason)
			}
		})
	}
}

// TestSRMNotCheckedInRuledPeriod: a period in which a targeting rule may give
// users a variant of the split is not tested against the split's weights;
// the periods the split alone assigned still are.
func TestSRMNotCheckedInRuledPeriod(t *testing.T) {
	ms := testMetrics()
	const t1 = int64(1_767_300_000_000)
	aggs, _ := rolloutAggregates(t, ms, []rolloutPeriod{
		{0, nil, []arm{{name: "control", users: 500, signup: 0.3}, {name: "treatment", users: 500, signup: 0.3}}},
		{t1, nil, []arm{{name: "control", users: 900, signup: 0.3}, {name: "treatment", users: 300, signup: 0.3}}},
	})
	alone, ruled := testFlag(), testFlag()
	alone.Targeting = []byte(`{"fractional":[["control",50],["treatment",50]]}`)
	ruled.Targeting = []byte(`{"if":[{"ends_with":[{"var":"email"},"@x.dev"]},"treatment",{"fractional":[["control",80],["treatment",20]]}]}`)
	splits := SplitHistory([]FlagVersion{{Flag: alone}, {At: time.UnixMilli(t1), Flag: ruled}})
	if len(splits) != 2 || splits[0].Ruled || !splits[1].Ruled {
		t.Fatalf("split history = %+v, want the second period ruled", splits)
	}
	res, err := Analyze(Input{Flag: "onboarding", Definition: ruled, Metrics: ms, Aggregates: aggs, Splits: splits, Settings: DefaultSettings()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Periods) != 2 {
		t.Fatalf("%d periods, want 2", len(res.Periods))
	}
	if p := res.Periods[0].SRM; p.Status != stats.OK || p.Mismatch {
		t.Errorf("first period SRM = %+v, want checked, no mismatch", p)
	}
	if p := res.Periods[1].SRM; p.Status != stats.NotApplicable || !strings.HasPrefix(p.Reason, "a targeting rule") {
		t.Errorf("ruled period SRM = %+v, want not checked, saying why", p)
	}
	if res.SRM.Mismatch {
		t.Errorf("overall SRM = %+v, want no mismatch", res.SRM)
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
