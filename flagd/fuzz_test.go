package flagd_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/flagd"
)

// FuzzParse checks that Parse never panics, that what it accepts compiles
// and evaluates, and that Marshal writes it back unchanged.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a", "targeting": {"if": [{"var": "x"}, "b", null]}}}}`))
	f.Add([]byte("flags:\n  f:\n    state: DISABLED\n    variants: {on: true}\n"))
	ctx := map[string]any{"targetingKey": "u1", "x": 1.0, "email": "a@example.com", "appVersion": "2.4.0", "country": "NL"}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, lenient := range []bool{false, true} {
			parse := flagd.Parse
			if lenient {
				parse = func(source string, data []byte) (*valueloop.FlagSet, error) {
					set, _, err := flagd.ParseLenient(source, data)
					return set, err
				}
			}
			set, err := parse("fuzz.json", data)
			if err != nil {
				continue
			}
			s, err := evaluation.CompileWith(set, evaluation.Options{Lenient: lenient})
			if err != nil {
				t.Fatalf("Parse accepted a set that does not compile: %v", err)
			}
			for _, r := range s.EvaluateAll(ctx, nil) {
				if strings.HasPrefix(r.ErrorMessage, "internal error") {
					t.Fatalf("flag %s panicked: %s", r.FlagKey, r.ErrorMessage)
				}
			}
			out, err := flagd.Marshal(set)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			again, err := parse("fuzz.json", out)
			if err != nil {
				t.Fatalf("Parse(Marshal(set)): %v\n%s", err, out)
			}
			if !reflect.DeepEqual(set, again) {
				t.Fatalf("Parse(Marshal(set)) != set:\n%s", out)
			}
		}
	})
}
