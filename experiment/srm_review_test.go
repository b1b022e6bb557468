package experiment

import (
	"strings"
	"testing"

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
