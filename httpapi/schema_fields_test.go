package httpapi_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/metric"
	"github.com/valueloop/valueloop/rollout"
	"github.com/valueloop/valueloop/stats"
	"github.com/valueloop/valueloop/value"
)

// TestSchemasNameEveryField: each schema of openapi.json that is a Go
// type's JSON names every member the type marshals. The response check
// (checkResponse) finds a member missing from the document only in the
// answers the tests happen to get, and members that are omitted when empty
// (a guardrail's neededUsers, a verdict's effectMetric) only when a test's
// data fills them: both were missing, found in the demo's answers.
func TestSchemasNameEveryField(t *testing.T) {
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{
		"AuditEntry":       valueloop.AuditEntry{},
		"Token":            valueloop.Token{},
		"Metric":           metric.Metric{},
		"Effect":           stats.Effect{},
		"Interval":         stats.Interval{},
		"RolloutPlan":      rollout.Plan{},
		"RolloutStep":      rollout.Step{},
		"Guardrail":        rollout.Guardrail{},
		"GuardrailResult":  rollout.GuardrailResult{},
		"Rollout":          rollout.Rollout{},
		"RolloutStatus":    rollout.Status{},
		"Objective":        value.Objective{},
		"Feature":          value.Feature{},
		"EvidenceEvent":    value.Event{},
		"Transition":       value.Transition{},
		"Hypothesis":       experiment.Hypothesis{},
		"AnalysisSettings": experiment.Settings{},
		"Change":           dora.Change{},
		"Deployment":       dora.Deployment{},
		"Incident":         dora.Incident{},
		"DeliveryService":  dora.Service{},
		"DeliverySource":   delivery.Source{},
		"Review":           dora.Review{},
	} {
		props := schemaProperties(t, doc.Components.Schemas, name)
		for _, field := range jsonNames(reflect.TypeOf(v)) {
			if !slices.Contains(props, field) {
				t.Errorf("openapi.json %s does not name %s, which %T marshals", name, field, v)
			}
		}
	}
}

// schemaProperties returns the properties of the named schema, its allOf
// members' included.
func schemaProperties(t *testing.T, schemas map[string]json.RawMessage, name string) []string {
	t.Helper()
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
		AllOf      []struct {
			Ref        string                     `json:"$ref"`
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"allOf"`
	}
	if err := json.Unmarshal(schemas[name], &s); err != nil {
		t.Fatalf("schema %s: %v", name, err)
	}
	var out []string
	for p := range s.Properties {
		out = append(out, p)
	}
	for _, m := range s.AllOf {
		if m.Ref != "" {
			out = append(out, schemaProperties(t, schemas, strings.TrimPrefix(m.Ref, "#/components/schemas/"))...)
		}
		for p := range m.Properties {
			out = append(out, p)
		}
	}
	return out
}

// jsonNames returns the member names encoding/json gives a struct type's
// fields, embedded structs' fields included.
func jsonNames(typ reflect.Type) []string {
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case tag == "-" || !f.IsExported() && !f.Anonymous:
		case f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct:
			out = append(out, jsonNames(f.Type)...)
		case tag != "":
			out = append(out, tag)
		default:
			out = append(out, f.Name)
		}
	}
	return out
}
