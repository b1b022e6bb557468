package forge_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/forge"
)

func TestDecode(t *testing.T) {
	var v struct {
		Ref string `json:"ref"`
	}
	tests := []struct{ name, body, field string }{
		{"not JSON", `ref=main`, "payload"},
		{"an array", `[]`, "payload"},
		{"a field of the wrong type", `{"ref": 5}`, "ref"},
		{"a repeated key", `{"ref": "a", "ref": "b"}`, "ref"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := forge.Decode([]byte(tt.body), &v)
			var e *valueloop.Error
			if !errors.As(err, &e) || e.Code != valueloop.EINVALID || e.Field != tt.field {
				t.Errorf("Decode(%s) = %v, want an invalid error naming %q", tt.body, err, tt.field)
			}
		})
	}
	if err := forge.Decode([]byte(`{"ref": "main", "unknown": 1}`), &v); err != nil || v.Ref != "main" {
		t.Errorf("Decode with an unknown field = %v, %q; want it read", err, v.Ref)
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("x", 41)
	if got := forge.Truncate(long); got != long[:40]+"…" {
		t.Errorf("Truncate(41 bytes) = %q", got)
	}
	if got := forge.Truncate(long[:40]); got != long[:40] {
		t.Errorf("Truncate(40 bytes) = %q, want it unchanged", got)
	}
}

func TestPaths(t *testing.T) {
	got := forge.Paths([]string{"a", "b"}, []string{"b", "c"}, nil, []string{"a"})
	if want := []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Paths = %v, want %v", got, want)
	}
}

func TestConfig(t *testing.T) {
	c := forge.Config{Production: map[string]bool{"prod": true, "staging": false}}
	if got := c.Label(); got != forge.DefaultIncidentLabel {
		t.Errorf("Label() = %q, want the default", got)
	}
	c.IncidentLabel = "sev1"
	if got := c.Label(); got != "sev1" {
		t.Errorf("Label() = %q, want sev1", got)
	}
	tests := []struct {
		env          string
		marked, want bool
	}{
		{"prod", false, true},     // listed: the list decides
		{"staging", true, false},  // listed: the list decides
		{"eu-live", true, true},   // not listed: the forge's mark decides
		{"eu-live", false, false}, // the name alone decides nothing
	}
	for _, tt := range tests {
		if got := c.IsProduction(tt.env, tt.marked); got != tt.want {
			t.Errorf("IsProduction(%q, %v) = %v, want %v", tt.env, tt.marked, got, tt.want)
		}
	}
}
