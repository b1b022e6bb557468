package httpapi_test

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

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
