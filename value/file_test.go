package value

import (
	"reflect"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
)

func TestParseFile(t *testing.T) {
	f := mustParse(t)
	if len(f.Objectives) != 2 || len(f.Features) != 3 {
		t.Fatalf("got %d objectives and %d features, want 2 and 3", len(f.Objectives), len(f.Features))
	}
	if got := f.Objectives[0].Horizon.String(); got != "2027-03-31" {
		t.Errorf("horizon: got %q", got)
	}
	nb := f.Features[0]
	if nb.Estimate.CostOfDelay.Total() != 16 || nb.Estimate.Size != 5 || nb.Links.Flags[0].Variant != "treatment" ||
		!reflect.DeepEqual(nb.Links.Changes.BranchPrefixes, []string{"onboarding/"}) {
		t.Errorf("new-onboarding: got %+v", nb)
	}
	if f.Features[2].Estimate != nil {
		t.Errorf("saved-carts: an estimate nobody gave: %+v", f.Features[2].Estimate)
	}
}

// TestExportRoundTrip: exported (YAML and JSON), parsed back, equal; and
// exporting again gives the same bytes.
func TestExportRoundTrip(t *testing.T) {
	f := mustParse(t)
	for _, asJSON := range []bool{false, true} {
		out, err := Export(f.Objectives, f.Features, asJSON)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseFile(out, testContext())
		if err != nil {
			t.Fatalf("json %v: parse the export: %v\n%s", asJSON, err, out)
		}
		if ops := Plan(f, back, true); len(ops) != 0 {
			t.Errorf("json %v: the export differs from what it exported: %+v\n%s", asJSON, ops, out)
		}
		again, _ := Export(back.Objectives, back.Features, asJSON)
		if string(again) != string(out) {
			t.Errorf("json %v: export not stable:\n%s\n---\n%s", asJSON, out, again)
		}
	}
	out, _ := Export(f.Objectives, f.Features, false)
	for _, want := range []string{"horizon: 2027-03-31\n", "  - key: new-onboarding\n", "labels:\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("YAML export lacks %q:\n%s", want, out)
		}
	}
}

func TestParseFileBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, data, field, msg string
	}{
		{"empty", "  \n", "file", "empty"},
		{"too large", "objectives: []\n" + strings.Repeat("#", MaxFileTextBytes), "file", "want at most"},
		// An indented file may be larger than MaxFileBytes: its compact
		// JSON, what one apply carries, may not.
		{"too large as compact JSON", `{"features": [` + strings.Repeat(`{"hypothesis": {"change": "`+strings.Repeat("c", 1000)+`"}},`, MaxFileBytes/1000) + `{}]}`, "file", "bytes as compact JSON, want at most"},
		{"not YAML", "objectives: [", "file", "not valid YAML"},
		{"too many objectives", `{"objectives": [` + strings.Repeat(`{},`, MaxFileObjectives) + `{}]}`, "objectives", "lists 1001 objectives, want at most 1000"},
		{"unknown field", "objectives: []\nfeatures:\n  - key: a\n    titel: A\n", "titel", "unknown field"},
		{"wrong type", `{"objectives": [{"key": "a", "target": {"value": "ten"}}]}`, "objectives[0].target.value", "must be a number, not a string"},
		{"not a file", "not json\n", "file", "must be an object, not a string"},
		{"features not a list", "features: 3\n", "features", "must be an array, not a number"},
		{"bad date", "objectives:\n  - key: a\n    horizon: next year\n", "file", "want a date"},
		// YAML reads .nan and .inf, which JSON cannot carry: refused
		// naming the field, not "file: YAML cannot be read as JSON".
		{"NaN", "features:\n  - key: a\n    estimate:\n      size: .nan\n", "features[0].estimate.size", "must be a finite number, got NaN"},
		{"Inf", "objectives:\n  - key: a\n    target: {direction: increase, value: -.inf}\n", "objectives[0].target.value", "must be a finite number, got -Inf"},
		// Read as not given (0.5: no opinion) although 0 is no
		// probability in (0, 1].
		{"confidence 0", "objectives:\n  - {key: o, title: O, metric: revenue, target: {direction: increase, value: 1}, horizon: 2027-01-01}\nfeatures:\n  - key: a\n    title: A\n    objective: o\n    hypothesis: {change: c}\n    estimate: {confidence: 0}\n", "features[0].estimate.confidence", "must be a probability in (0, 1], got 0"},
		{"invalid after parsing", "objectives:\n  - key: a\n    title: A\n    metric: nps\n    target: {direction: increase, value: 1}\n    horizon: 2027-01-01\n", "objectives[0].metric", `no metric "nps"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFile([]byte(tc.data), testContext())
			e, ok := err.(*valueloop.Error)
			if !ok || e.Field != tc.field || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("got %v, want %s: …%s…", err, tc.field, tc.msg)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	cur := mustParse(t)
	next := mustParse(t)
	next.Features[0].Title = "Guided onboarding"
	next.Features[0].Estimate.Size = 3
	next.Features = next.Features[:2] // saved-carts removed from the file
	next.Objectives = append(next.Objectives, objective("retention", "2027-12-31"))
	next.Features = append(next.Features, Feature{Key: "streaks", Title: "Streaks", Objective: "retention", Hypothesis: Hypothesis{Change: "streaks"}})
	want := []Op{
		{Action: "create", Kind: "objective", Key: "retention"},
		{Action: "update", Kind: "feature", Key: "new-onboarding", Fields: []string{"title", "estimate"}},
		{Action: "create", Kind: "feature", Key: "streaks"},
	}
	if got := Plan(cur, next, false); !reflect.DeepEqual(got, want) {
		t.Errorf("without prune:\ngot  %+v\nwant %+v", got, want)
	}
	want = append(want, Op{Action: "delete", Kind: "feature", Key: "saved-carts"})
	if got := Plan(cur, next, true); !reflect.DeepEqual(got, want) {
		t.Errorf("with prune:\ngot  %+v\nwant %+v", got, want)
	}
}
