package jsondecode_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/jsondecode"
)

type plan struct {
	Name  string `json:"name"`
	Steps []struct {
		Percent float64 `json:"percent"`
		Users   int     `json:"users"`
		Wait    wait    `json:"wait"`
	} `json:"steps"`
	Labels map[string]struct {
		On bool `json:"on"`
	} `json:"labels"`
	Raw map[string]json.RawMessage `json:"raw"`
	At  time.Time                  `json:"at"`
}

// wait is a type with its own UnmarshalJSON, whose errors say nothing of
// where (as rollout.Duration's).
type wait string

func (w *wait) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if strings.HasPrefix(s, "-") {
		return fmt.Errorf("must not be negative, got %q", s)
	}
	*w = wait(s)
	return nil
}

func TestDecodeErrors(t *testing.T) {
	for _, c := range []struct {
		name, in, field, message string
	}{
		{"type in array element", `{"steps":[{"percent":1},{"percent":"x"}]}`, "steps[1].percent", "must be a number, not a string"},
		{"integer", `{"steps":[{"users":1.5}]}`, "steps[0].users", "must be an integer, not the number 1.5"},
		{"type in map value", `{"labels":{"beta":{"on":"yes"}}}`, "labels.beta.on", "must be true or false, not a string"},
		{"no Go type names", `{"raw":[1]}`, "raw", "must be an object, not an array"},
		{"root", `[1]`, "", "must be an object, not an array"},
		{"unknown field", `{"steps":[{"percent":1,"pct":2}]}`, "steps[0].pct", "is not a known field"},
		{"duplicate key", `{"name":"a","steps":[],"name":"b"}`, "name", "appears more than once"},
		{"nested duplicate", `{"labels":{"x":{"on":true,"on":false}}}`, "labels.x.on", "appears more than once"},
		// Keys as long as a flag key's 200 bytes are named whole (two
		// alike in their first 64 were one field); longer ones are cut.
		{"long key whole", `{"labels":{"` + strings.Repeat("k", 200) + `":{"on":"yes"}}}`, "labels." + strings.Repeat("k", 200) + ".on", "must be true or false"},
		{"huge key cut", `{"labels":{"` + strings.Repeat("k", 70000) + `":{"on":"yes"}}}`, "labels." + strings.Repeat("k", 64) + "….on", "must be true or false"},
		{"syntax", "{\"name\":\"a\",\n \"steps\" 1}", "", "line 2, column 10"},
		{"truncated", `{"steps":`, "", "ends too early"},
		{"empty", ``, "", "empty"},
		{"trailing data", `{} {}`, "", "data after its value"},
		{"own unmarshaler: the refused value's field", `{"steps":[{"wait":"1h"},{"wait":"-1h"}]}`, "steps[1].wait", `must not be negative, got "-1h"`},
		{"own unmarshaler, value seen twice: no guess", `{"name":"-1h","steps":[{"wait":"-1h"}]}`, "", `must not be negative`},
		{"time", `{"at":"soon"}`, "", `a time must be RFC 3339, such as 2026-01-05T08:00:00Z, not "soon"`},
		// encoding/json takes "NAME" for "name": with both, a reader sees
		// one value and the server would take the other.
		{"key in another case", `{"NAME":"a"}`, "NAME", `is not a known field (field names are case-sensitive: "name")`},
		{"second spelling of a field", `{"name":"a","Name":"b"}`, "Name", `field names are case-sensitive: "name"`},
		{"other case in an array element", `{"steps":[{"percent":1},{"perCent":2}]}`, "steps[1].perCent", `field names are case-sensitive: "percent"`},
		{"other case in a map value", `{"labels":{"Beta":{"ON":true}}}`, "labels.Beta.ON", `field names are case-sensitive: "on"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var p plan
			err := jsondecode.Decode([]byte(c.in), &p, jsondecode.Options{DisallowUnknownFields: true})
			var e *valueloop.Error
			if !errors.As(err, &e) || e.Code != valueloop.EINVALID {
				t.Fatalf("got %v, want an invalid error", err)
			}
			if e.Field != c.field || !strings.Contains(e.Message, c.message) {
				t.Errorf("got field %q message %q, want field %q message with %q", e.Field, e.Message, c.field, c.message)
			}
			if strings.Contains(e.Message, "map[") || strings.Contains(e.Message, "json.") || strings.Contains(e.Message, "float64") {
				t.Errorf("message %q shows Go types", e.Message)
			}
		})
	}
}

func TestDecodeLenient(t *testing.T) {
	var p plan
	in := `{"name":"a","extra":{"deep":[1,2]},"steps":[{"percent":5}]}`
	if err := jsondecode.Decode([]byte(in), &p, jsondecode.Options{}); err != nil {
		t.Fatal(err)
	}
	if p.Name != "a" || len(p.Steps) != 1 || p.Steps[0].Percent != 5 {
		t.Errorf("got %+v", p)
	}
	if err := jsondecode.Decode([]byte(`{"name":"a","name":"b"}`), &p, jsondecode.Options{AllowDuplicateKeys: true}); err != nil || p.Name != "b" {
		t.Errorf("duplicates allowed: got %v, name %q", err, p.Name)
	}
}

// TestDecodeCaseSensitiveOnlyForFields: keys of maps, of values that
// decode themselves and of promoted fields are taken as they are.
func TestDecodeCaseSensitiveOnlyForFields(t *testing.T) {
	var p plan
	in := `{"labels":{"beta":{"on":true},"Beta":{"on":false}},"raw":{"x":{"NAME":1}}}`
	if err := jsondecode.Decode([]byte(in), &p, jsondecode.Options{DisallowUnknownFields: true}); err != nil {
		t.Fatal(err)
	}
	if len(p.Labels) != 2 || !p.Labels["beta"].On || p.Labels["Beta"].On {
		t.Errorf("map keys differing in case: got %+v", p.Labels)
	}
	type Inner struct {
		Percent float64 `json:"percent"`
	}
	var e struct {
		Inner
		Name string
	}
	if err := jsondecode.Decode([]byte(`{"percent":5,"Name":"n"}`), &e, jsondecode.Options{DisallowUnknownFields: true}); err != nil || e.Percent != 5 || e.Name != "n" {
		t.Errorf("promoted and untagged fields: got %+v, %v", e, err)
	}
	if err := jsondecode.Decode([]byte(`{"Percent":5}`), &e, jsondecode.Options{DisallowUnknownFields: true}); err == nil {
		t.Error("a promoted field in another case was taken")
	}
	if err := jsondecode.Decode([]byte(`{"NAME":"a"}`), &p, jsondecode.Options{}); err != nil || p.Name != "a" {
		t.Errorf("lenient (other systems' payloads): got %v, name %q; want encoding/json's matching", err, p.Name)
	}
}

func TestDuplicates(t *testing.T) {
	in := `{"flags":{"a/b":{"x":1,"x":2},"c":[{"k":1,"k":2,"k":3}]},"flags":{}}`
	var got []string
	for _, p := range jsondecode.Duplicates([]byte(in)) {
		got = append(got, p.Pointer())
	}
	want := []string{"/flags/a~1b/x", "/flags/c/0/k", "/flags/c/0/k", "/flags"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}
}
