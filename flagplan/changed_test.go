package flagplan_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flagplan"
)

func TestChangedFlags(t *testing.T) {
	str := func(s string) *string { return &s }
	flag := func(def string, targeting string) *valueloop.Flag {
		f := &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"a": true, "b": false}, DefaultVariant: str(def)}
		if targeting != "" {
			f.Targeting = []byte(targeting)
		}
		return f
	}
	base := func() *valueloop.FlagSet {
		return &valueloop.FlagSet{Flags: map[string]*valueloop.Flag{
			"static": flag("a", ""),
			"ruled":  flag("a", `{"$ref":"x"}`),
			"gone":   flag("a", ""),
		}, Evaluators: map[string]json.RawMessage{"x": json.RawMessage(`{"var":"k"}`)}}
	}
	tests := []struct {
		name   string
		change func(s *valueloop.FlagSet)
		want   []string
	}{
		{"nothing", func(s *valueloop.FlagSet) {}, nil},
		{"default variant", func(s *valueloop.FlagSet) { s.Flags["static"].DefaultVariant = str("b") }, []string{"static"}},
		{"null default variant", func(s *valueloop.FlagSet) { s.Flags["static"].DefaultVariant = nil }, []string{"static"}},
		{"state", func(s *valueloop.FlagSet) { s.Flags["ruled"].State = "DISABLED" }, []string{"ruled"}},
		{"variant value", func(s *valueloop.FlagSet) { s.Flags["static"].Variants["b"] = true }, []string{"static"}},
		{"flag metadata", func(s *valueloop.FlagSet) { s.Flags["static"].Metadata = map[string]any{"o": "p"} }, []string{"static"}},
		{"targeting", func(s *valueloop.FlagSet) { s.Flags["ruled"].Targeting = []byte(`{"var":"k"}`) }, []string{"ruled"}},
		{"added and removed", func(s *valueloop.FlagSet) {
			delete(s.Flags, "gone")
			s.Flags["new"] = flag("a", "")
		}, []string{"gone", "new"}},
		{"evaluators: flags with targeting", func(s *valueloop.FlagSet) { s.Evaluators["x"] = []byte(`{"var":"j"}`) }, []string{"ruled"}},
		{"set metadata: every flag", func(s *valueloop.FlagSet) { s.Metadata = map[string]any{"v": 2.0} }, []string{"gone", "ruled", "static"}},
		{"empty set metadata for none", func(s *valueloop.FlagSet) { s.Metadata = map[string]any{} }, nil},
	}
	if got, want := flagplan.ChangedFlags(nil, base()), []string{"gone", "ruled", "static"}; !reflect.DeepEqual(got, want) {
		t.Errorf("from no set: %v, want %v", got, want)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := base()
			tt.change(cur)
			if got := flagplan.ChangedFlags(base(), cur); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
