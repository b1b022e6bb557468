package evaluation_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/evaluation"
)

// fuzzRules exercise every operation with context data.
var fuzzRules = []string{
	`{"if": [{"and": [{"ends_with": [{"var": "email"}, "@example.com"]}, {"in": [{"var": "country"}, ["NL", "BE"]]}, {"sem_ver": [{"var": "v"}, ">=", "2.3.0"]}]}, "a", "b"]}`,
	`{"fractional": [["a", 1], ["b", 1]]}`,
	`{"fractional": [{"cat": [{"var": "$flagd.flagKey"}, {"var": "user.id"}]}, ["a", {"var": "w"}], [{"var": "name"}, 1]]}`,
	`{"fractional": {"var": "dist"}}`,
	`{"if": [{"<": [{"var": "n"}, {"var": "m"}, 10]}, "a", {">=": [{"var": "n"}, "5"]}, "b", null]}`,
	`{"==": [{"var": "x"}, {"var": "y"}]}`,
	`{"===": [{"var": "x"}, {"var": ["y", 1]}]}`,
	`{"!": {"var": "x"}}`,
	`{"!!": [{"var": "x.0.y"}]}`,
	`{"or": [{"var": "x"}, {"var": "y"}, "a"]}`,
	`{"cat": [{"var": "name"}, {"substr": [{"var": "s"}, {"var": "n"}, {"var": "m"}]}]}`,
	`{"in": [{"var": "x"}, {"var": "y"}]}`,
	`{"in": [{"var": "x"}, [1, "a", [0, 5], null, true]]}`,
	`{"if": [{"some": [{"var": "roles"}, {"==": [{"var": ""}, "admin"]}]}, "a", "b"]}`,
	`{"if": [{"all": [{"var": "items"}, {">": [{"var": "qty"}, 0]}]}, "a", "b"]}`,
	`{"if": [{"none": [{"var": "items"}, {"var": "bad"}]}, "a", "b"]}`,
	`{"var": [{"cat": ["p", {"var": "i"}]}, "a"]}`,
	`{"map": [{"var": "items"}, {"*": [{"var": "qty"}, 2]}]}`,
	`{"filter": [{"var": "items"}, {"var": "qty"}]}`,
	`{"reduce": [{"var": "nums"}, {"+": [{"var": "current"}, {"var": "accumulator"}]}, {"var": "start"}]}`,
	`{"merge": [{"var": "x"}, {"var": "y"}]}`,
	`{"missing": [{"var": "k"}, "x", "y"]}`,
	`{"missing_some": [{"var": "n"}, ["x", "y", "z"]]}`,
	`{"max": [{"var": "n"}, {"var": "m"}]}`,
	`{"-": [{"var": "n"}, {"%": [{"var": "m"}, 3]}]}`,
	`{"/": [{"var": "n"}, {"var": "m"}]}`,
	`{"starts_with": [{"var": "s"}, {"var": "p"}]}`,
	`{"sem_ver": [{"var": "v"}, {"var": "op"}, {"var": "w"}]}`,
	`{"var": "$flagd"}`,
	`{"var": ""}`,
	`{"contains_any": [{"var": "x"}, {"var": "y"}]}`,
	`{"if": [{"var": "x"}, {"var": "y"}, {"var": "z"}]}`,
}

func fuzzSnapshot(tb testing.TB) *evaluation.Snapshot {
	set := &valueloop.FlagSet{Flags: map[string]*valueloop.Flag{}}
	for i, rule := range fuzzRules {
		set.Flags[fmt.Sprintf("f%02d", i)] = &valueloop.Flag{
			State:          "ENABLED",
			Variants:       map[string]any{"a": "A", "b": "B", "true": "T", "false": "F", "1": "one"},
			DefaultVariant: ptr("b"),
			Targeting:      json.RawMessage(rule),
		}
	}
	s, err := evaluation.CompileWith(set, evaluation.Options{Lenient: true, Now: func() time.Time { return time.Unix(1700000000, 0) }})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// checkResult fails on results no evaluation may produce: a recovered
// panic, or an inconsistent result.
func checkResult(t *testing.T, r evaluation.Result) {
	t.Helper()
	if strings.HasPrefix(r.ErrorMessage, "internal error") {
		t.Fatalf("flag %s panicked: %s", r.FlagKey, r.ErrorMessage)
	}
	switch r.Reason {
	case evaluation.ReasonError:
		if r.ErrorCode == "" || r.Value != nil || r.Variant != "" {
			t.Fatalf("inconsistent error result %+v", r)
		}
	case evaluation.ReasonTargetingMatch, evaluation.ReasonSplit, evaluation.ReasonDefault, evaluation.ReasonStatic:
		if r.ErrorCode != "" || (r.Variant == "") != (r.Value == nil) {
			t.Fatalf("inconsistent result %+v", r)
		}
	default:
		t.Fatalf("unexpected reason in %+v", r)
	}
}

// FuzzEvaluate evaluates a fixed rule set against random contexts.
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte(`{"targetingKey": "u1", "email": "ada@example.com", "country": "NL", "v": "2.4.0"}`))
	f.Add([]byte(`{"n": 3, "m": "7", "x": [1, 2], "y": {"a": 1}, "items": [{"qty": 1}, {"qty": 0}], "nums": [1, null, "2"], "start": 0}`))
	f.Add([]byte(`{"dist": [["a", 1], ["b", -1]], "targetingKey": "k", "user": {"id": 7}, "w": 1.5, "name": "a"}`))
	f.Add([]byte(`{"roles": ["admin"], "s": "héllo", "p": "h", "op": "~", "w": "1.2", "i": 1, "p1": "a"}`))
	s := fuzzSnapshot(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var ctx map[string]any
		if json.Unmarshal(data, &ctx) != nil {
			return
		}
		for _, r := range s.EvaluateAll(ctx, nil) {
			checkResult(t, r)
		}
	})
}

// FuzzRule compiles random targeting rules, as flagd would load them, and
// evaluates them.
func FuzzRule(f *testing.F) {
	for _, rule := range fuzzRules {
		f.Add([]byte(rule), []byte(`{"targetingKey": "u1", "x": 1, "items": [{"qty": 2}], "s": "abc"}`))
	}
	f.Fuzz(func(t *testing.T, rule, data []byte) {
		if !json.Valid(rule) {
			return
		}
		var ctx map[string]any
		_ = json.Unmarshal(data, &ctx)
		flag := &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"a": 1.0, "b": 2.0}, DefaultVariant: ptr("a"), Targeting: rule}
		set := &valueloop.FlagSet{Flags: map[string]*valueloop.Flag{"f": flag}}
		for _, lenient := range []bool{true, false} {
			s, err := evaluation.CompileWith(set, evaluation.Options{Lenient: lenient})
			if err != nil {
				continue
			}
			checkResult(t, s.Evaluate("f", ctx))
		}
	})
}
