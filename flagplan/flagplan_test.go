package flagplan_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flagplan"
)

func strp(s string) *string { return &s }

func TestPlanFlagSet(t *testing.T) {
	old := &valueloop.FlagSet{
		Flags: map[string]*valueloop.Flag{
			"keep":   {State: "ENABLED", Variants: map[string]any{"on": true}, DefaultVariant: strp("on"), Targeting: json.RawMessage(`{"if": [true, "on", null]}`)},
			"change": {State: "ENABLED", Variants: map[string]any{"a": "a"}, DefaultVariant: strp("a")},
			"drop":   {State: "DISABLED", Variants: map[string]any{"x": 1.0}, DefaultVariant: strp("x")},
		},
		Metadata: map[string]any{"flagSetId": "shop"},
	}
	next := &valueloop.FlagSet{
		Flags: map[string]*valueloop.Flag{
			// Same rule, other whitespace: not a change.
			"keep":   {State: "ENABLED", Variants: map[string]any{"on": true}, DefaultVariant: strp("on"), Targeting: json.RawMessage(`{"if":[true,"on",null]}`)},
			"change": {State: "DISABLED", Variants: map[string]any{"a": "a"}, DefaultVariant: strp("a")},
			"add":    {State: "ENABLED", Variants: map[string]any{"b": "b"}, DefaultVariant: strp("b")},
		},
		Metadata: map[string]any{"flagSetId": "shop"},
	}
	plan, err := flagplan.Compare(old, next)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range plan.Writes {
		kind := "update"
		if w.Before == nil {
			kind = "create"
		} else if w.After == nil {
			kind = "delete"
		}
		got = append(got, kind+" "+w.Key)
	}
	if want := []string{"create add", "update change", "delete drop"}; !reflect.DeepEqual(got, want) {
		t.Errorf("writes = %v, want %v", got, want)
	}
	if c := plan.Change(7); !reflect.DeepEqual(c, valueloop.FlagSetChange{Added: []string{"add"}, Changed: []string{"change"}, Removed: []string{"drop"}, Version: 7}) {
		t.Errorf("Change = %+v", c)
	}
	if plan.SetAfter != nil || plan.Empty() {
		t.Errorf("metadata unchanged: SetAfter %s, Empty %v", plan.SetAfter, plan.Empty())
	}

	same, _ := flagplan.Compare(next, next)
	if !same.Empty() {
		t.Errorf("a set against itself: %+v, want an empty plan", same)
	}
	meta := *next
	meta.Evaluators = map[string]json.RawMessage{"gold": json.RawMessage(`{"==":[1,1]}`)}
	onlySet, _ := flagplan.Compare(next, &meta)
	if len(onlySet.Writes) != 0 || onlySet.SetAfter == nil || onlySet.Empty() {
		t.Errorf("evaluators added: %+v, want a set-level change only", onlySet)
	}
	bad := &valueloop.FlagSet{Flags: map[string]*valueloop.Flag{"nan": {Variants: map[string]any{"x": jsonNaN()}}}}
	if _, err := flagplan.Compare(old, bad); err == nil {
		t.Error("a value JSON cannot encode: want an error")
	}
}

func jsonNaN() float64 {
	zero := 0.0
	return zero / zero
}

// TestEncodeFlagKeepsOperators: stored (and so exported) targeting keeps
// ">=", "<" and "&" as written, not as \u003e= and the like.
func TestEncodeFlagKeepsOperators(t *testing.T) {
	f := &valueloop.Flag{Key: "a", State: valueloop.StateEnabled, Variants: map[string]any{"on": true, "off": false}, DefaultVariant: strp("off"),
		Targeting: json.RawMessage(`{"if":[{">=":[{"var":"age"},18]},"on",{"if":[{"<":[{"var":"n"},2]},"off","R&D"]}]}`)}
	buf, err := flagplan.EncodeFlag(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`">="`, `"<"`, `"R&D"`} {
		if !bytes.Contains(buf, []byte(want)) {
			t.Errorf("encoded flag lacks %s: %s", want, buf)
		}
	}
	if bytes.HasSuffix(buf, []byte("\n")) {
		t.Errorf("encoded flag ends with a newline: %q", buf)
	}
}
