package httpapi_test

import (
	"slices"
	"testing"

	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/stats"
	"github.com/valueloop/valueloop/valuelooptest"
)

// TestOpenAPICorrectionEnums: every place the document lists the
// multiple-testing corrections lists exactly the ones the statistics accept,
// so a client generated from it can ask for each of them.
func TestOpenAPICorrectionEnums(t *testing.T) {
	var accepted []string
	for _, c := range []stats.Correction{stats.NoCorrection, stats.Holm, stats.BenjaminiHochberg, stats.Bonferroni, "sidak", ""} {
		s := stats.DefaultSettings()
		s.Correction = c
		if s.Validate() == nil {
			accepted = append(accepted, string(c))
		}
	}
	found := 0
	eachObject(t, func(v map[string]any) {
		if enum := correctionEnum(v); enum != nil {
			found++
			if !slices.Equal(slices.Sorted(slices.Values(enum)), slices.Sorted(slices.Values(accepted))) {
				t.Errorf("a correction enum lists %v; the statistics accept %v", enum, accepted)
			}
		}
	})
	if found < 3 {
		t.Errorf("found %d correction enums, want the settings schema, the query parameter and the slices' correction", found)
	}
}

// eachObject calls fn with every JSON object of the OpenAPI document.
func eachObject(t *testing.T, fn func(map[string]any)) {
	t.Helper()
	walkObjects(valuelooptest.ReadJSON[any](t, "openapi.json"), fn)
}

// walkObjects calls fn with every object in the decoded JSON value v,
// parents before their members (which fn may change).
func walkObjects(v any, fn func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		fn(v)
		for _, x := range v {
			walkObjects(x, fn)
		}
	case []any:
		for _, x := range v {
			walkObjects(x, fn)
		}
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
	return enumOf(schema)
}

// enumOf returns the enum of a schema, nil when it has none.
func enumOf(schema map[string]any) []string {
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
	given := []string{experiment.CodeSRM, experiment.CodeWorthShipping, experiment.CodeGuardrailBreached,
		experiment.CodeWrongDirection, experiment.CodeBelowMinimum, experiment.CodeNotEnoughData,
		experiment.CodeZeroBaseline, experiment.CodeNeedMoreUsers, experiment.CodeNoPlannedSample,
		experiment.CodeGuardrailUnknown, experiment.CodePlannedSampleReached}
	slices.Sort(given)
	found := 0
	eachObject(t, func(v map[string]any) {
		props, _ := v["properties"].(map[string]any)
		code, _ := props["code"].(map[string]any)
		// Verdicts: a decision beside the code; a recorded verdict's
		// ("at") has no enum.
		if _, history := props["at"]; props["decision"] == nil || code == nil || history {
			return
		}
		found++
		if enum := slices.Sorted(slices.Values(enumOf(code))); !slices.Equal(enum, given) {
			t.Errorf("a verdict code enum lists %v; the verdict gives %v", enum, given)
		}
	})
	if found < 2 {
		t.Errorf("found %d verdict code enums, want the verdict's and its treatments'", found)
	}
}

// TestOpenAPIGuardrailStatuses: a verdict's guardrail check lists exactly
// the statuses the verdict gives. The document listed at_risk and
// breached, statuses never given, for not_yet_known and harmed, so a
// client generated from it rejected every guardrail not yet known.
func TestOpenAPIGuardrailStatuses(t *testing.T) {
	given := []string{experiment.GuardrailOK, experiment.GuardrailHarmed, experiment.GuardrailUnknown, experiment.GuardrailNoData}
	slices.Sort(given)
	found := 0
	eachObject(t, func(v map[string]any) {
		props, _ := v["properties"].(map[string]any)
		status, _ := props["status"].(map[string]any)
		// A guardrail check: a status beside its harm and tolerance.
		if status == nil || props["harm"] == nil || props["tolerance"] == nil {
			return
		}
		found++
		if enum := slices.Sorted(slices.Values(enumOf(status))); !slices.Equal(enum, given) {
			t.Errorf("a guardrail status enum lists %v; the verdict gives %v", enum, given)
		}
	})
	if found == 0 {
		t.Error("found no guardrail check with a status in the document")
	}
}
