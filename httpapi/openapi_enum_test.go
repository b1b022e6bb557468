package httpapi_test

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/stats"
)

// TestOpenAPICorrectionEnums: every place the document lists the
// multiple-testing corrections lists exactly the ones the statistics accept,
// so a client generated from it can ask for each of them.
func TestOpenAPICorrectionEnums(t *testing.T) {
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var accepted []string
	for _, c := range []stats.Correction{stats.NoCorrection, stats.Holm, stats.BenjaminiHochberg, stats.Bonferroni, "sidak", ""} {
		s := stats.DefaultSettings()
		s.Correction = c
		if s.Validate() == nil {
			accepted = append(accepted, string(c))
		}
	}
	found := 0
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if enum := correctionEnum(v); enum != nil {
				found++
				if !slices.Equal(slices.Sorted(slices.Values(enum)), slices.Sorted(slices.Values(accepted))) {
					t.Errorf("a correction enum lists %v; the statistics accept %v", enum, accepted)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	if found < 3 {
		t.Errorf("found %d correction enums, want the settings schema, the query parameter and the slices' correction", found)
	}
}

// correctionEnum returns the enum of a "correction" property or parameter.
func correctionEnum(v map[string]any) []string {
	var schema map[string]any
	if props, ok := v["properties"].(map[string]any); ok {
		schema, _ = props["correction"].(map[string]any)
	}
	if v["name"] == "correction" {
		schema, _ = v["schema"].(map[string]any)
	}
	enum, _ := schema["enum"].([]any)
	var out []string
	for _, e := range enum {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// TestOpenAPIVerdictCodes: the verdict's code and each treatment's list
// exactly the codes the verdict gives, so that a client generated from the
// document accepts every verdict. The document listed guardrail_at_risk,
// a code never given, for guardrail_not_yet_known, and lacked
// no_planned_sample.
func TestOpenAPIVerdictCodes(t *testing.T) {
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	given := []string{experiment.CodeSRM, experiment.CodeWorthShipping, experiment.CodeGuardrailBreached,
		experiment.CodeWrongDirection, experiment.CodeBelowMinimum, experiment.CodeNotEnoughData,
		experiment.CodeZeroBaseline, experiment.CodeNeedMoreUsers, experiment.CodeNoPlannedSample,
		experiment.CodeGuardrailUnknown, experiment.CodePlannedSampleReached}
	slices.Sort(given)
	found := 0
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok && props["decision"] != nil {
				if code, ok := props["code"].(map[string]any); ok {
					var enum []string
					listed, _ := code["enum"].([]any)
					for _, e := range listed {
						s, _ := e.(string)
						enum = append(enum, s)
					}
					// Only verdicts: a recorded verdict's code has no enum.
					if _, history := props["at"]; !history {
						found++
						if slices.Sort(enum); !slices.Equal(enum, given) {
							t.Errorf("a verdict code enum lists %v; the verdict gives %v", enum, given)
						}
					}
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	if found < 2 {
		t.Errorf("found %d verdict code enums, want the verdict's and its treatments'", found)
	}
}
