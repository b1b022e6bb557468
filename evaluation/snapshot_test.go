package evaluation_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/evaluation"
)

// setOf builds a flag set from a flagd-shaped JSON document.
func setOf(tb testing.TB, doc string) *valueloop.FlagSet {
	tb.Helper()
	var file struct {
		Flags      map[string]*valueloop.Flag `json:"flags"`
		Evaluators map[string]json.RawMessage `json:"$evaluators"`
		Metadata   map[string]any             `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(doc), &file); err != nil {
		tb.Fatalf("test set: %v", err)
	}
	for k, f := range file.Flags {
		f.Key = k
	}
	return &valueloop.FlagSet{Flags: file.Flags, Evaluators: file.Evaluators, Metadata: file.Metadata}
}

func mustCompile(tb testing.TB, doc string, opts evaluation.Options) *evaluation.Snapshot {
	tb.Helper()
	s, err := evaluation.CompileWith(setOf(tb, doc), opts)
	if err != nil {
		tb.Fatalf("Compile: %v", err)
	}
	return s
}

const reasonsSet = `{
  "flags": {
    "static":   {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"},
    "disabled": {"state": "DISABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"},
    "no-default": {"state": "ENABLED", "variants": {"on": true, "off": false}},
    "rule": {"state": "ENABLED", "variants": {"on": "yes", "off": "no"}, "defaultVariant": "off",
      "targeting": {"if": [{"ends_with": [{"var": "email"}, "@example.com"]}, "on", null]}},
    "rule-no-default": {"state": "ENABLED", "variants": {"on": "yes", "off": "no"}, "defaultVariant": null,
      "targeting": {"if": [{"ends_with": [{"var": "email"}, "@example.com"]}, "on"]}},
    "split": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a",
      "targeting": {"fractional": [["a", 0], ["b", 1]]}},
    "split-condition": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a",
      "targeting": {"if": [{"fractional": [[false, 0], [true, 1]]}, "b", "a"]}},
    "bool-result": {"state": "ENABLED", "variants": {"true": {"x": 1}, "false": {"x": 0}}, "defaultVariant": "false",
      "targeting": {"==": [{"var": "n"}, 1]}},
    "number-result": {"state": "ENABLED", "variants": {"1": 1.5, "2": 2.5}, "defaultVariant": "2",
      "targeting": {"+": [{"var": "n"}, 0]}},
    "failing": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
      "targeting": {"if": [{"+": [{"var": "n"}]}, "on", "off"]}},
    "named-by-context": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
      "targeting": {"var": "pick"}},
    "nan": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
      "targeting": {"/": [0, {"var": "n"}]}}
  }
}`

func TestEvaluateReasons(t *testing.T) {
	s := mustCompile(t, reasonsSet, evaluation.Options{})
	cases := []struct {
		flag    string
		ctx     map[string]any
		value   any
		variant string
		reason  evaluation.Reason
		code    evaluation.ErrorCode
	}{
		{"static", nil, true, "on", evaluation.ReasonStatic, ""},
		{"disabled", nil, nil, "", evaluation.ReasonDisabled, ""},
		{"no-default", nil, nil, "", evaluation.ReasonDefault, ""},
		{"rule", map[string]any{"email": "ada@example.com"}, "yes", "on", evaluation.ReasonTargetingMatch, ""},
		{"rule", map[string]any{"email": "ada@example.org"}, "no", "off", evaluation.ReasonDefault, ""},
		{"rule", nil, "no", "off", evaluation.ReasonDefault, ""},
		{"rule-no-default", map[string]any{"email": "x"}, nil, "", evaluation.ReasonDefault, ""},
		{"rule-no-default", map[string]any{"email": "a@example.com"}, "yes", "on", evaluation.ReasonTargetingMatch, ""},
		{"split", map[string]any{"targetingKey": "u1"}, 2.0, "b", evaluation.ReasonSplit, ""},
		{"split", nil, 1.0, "a", evaluation.ReasonDefault, ""},
		{"split-condition", map[string]any{"targetingKey": "u1"}, 2.0, "b", evaluation.ReasonTargetingMatch, ""},
		{"bool-result", map[string]any{"n": 1}, map[string]any{"x": 1.0}, "true", evaluation.ReasonTargetingMatch, ""},
		{"bool-result", map[string]any{"n": 2}, map[string]any{"x": 0.0}, "false", evaluation.ReasonTargetingMatch, ""},
		{"number-result", map[string]any{"n": 1}, 1.5, "1", evaluation.ReasonTargetingMatch, ""},
		{"number-result", map[string]any{"n": 3}, nil, "", evaluation.ReasonError, evaluation.General},
		{"failing", map[string]any{"n": true}, nil, "", evaluation.ReasonError, evaluation.ParseError},
		{"failing", map[string]any{"n": 1}, true, "on", evaluation.ReasonTargetingMatch, ""},
		{"named-by-context", map[string]any{"pick": "on"}, true, "on", evaluation.ReasonTargetingMatch, ""},
		{"named-by-context", map[string]any{"pick": "zzz"}, nil, "", evaluation.ReasonError, evaluation.General},
		{"named-by-context", map[string]any{"pick": map[string]any{"a": 1, "b": 2}}, nil, "", evaluation.ReasonError, evaluation.General},
		{"named-by-context", map[string]any{"pick": make(chan int)}, nil, "", evaluation.ReasonError, evaluation.InvalidContext},
		{"nan", map[string]any{"n": 0}, nil, "", evaluation.ReasonError, evaluation.ParseError},
		{"missing", nil, nil, "", evaluation.ReasonError, evaluation.FlagNotFound},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s %v", tc.flag, tc.ctx), func(t *testing.T) {
			r := s.Evaluate(tc.flag, tc.ctx)
			if r.FlagKey != tc.flag || !reflect.DeepEqual(r.Value, tc.value) || r.Variant != tc.variant || r.Reason != tc.reason || r.ErrorCode != tc.code {
				t.Errorf("got %+v,\nwant key %s value %v variant %q reason %s code %q", r, tc.flag, tc.value, tc.variant, tc.reason, tc.code)
			}
			if (r.ErrorCode == "") != (r.ErrorMessage == "") {
				t.Errorf("error code %q with message %q", r.ErrorCode, r.ErrorMessage)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	s := mustCompile(t, `{
	  "metadata": {"flagSetId": "checkout", "version": "7", "team": "payments"},
	  "flags": {
	    "own": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on", "metadata": {"team": "growth", "ticket": 42}},
	    "plain": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}
	  }}`, evaluation.Options{})
	want := map[string]any{"flagSetId": "checkout", "version": "7", "team": "growth", "ticket": 42.0}
	if got := s.Evaluate("own", nil).Metadata; !reflect.DeepEqual(got, want) {
		t.Errorf("flag metadata over set metadata: got %v, want %v", got, want)
	}
	setMeta := map[string]any{"flagSetId": "checkout", "version": "7", "team": "payments"}
	if got := s.Evaluate("plain", nil).Metadata; !reflect.DeepEqual(got, setMeta) {
		t.Errorf("set metadata: got %v, want %v", got, setMeta)
	}
	if got := s.Evaluate("nope", nil).Metadata; !reflect.DeepEqual(got, setMeta) {
		t.Errorf("not found: got %v, want the set metadata %v", got, setMeta)
	}
	empty := mustCompile(t, `{"flags": {"f": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}}}`, evaluation.Options{})
	if got := empty.Evaluate("f", nil).Metadata; got != nil {
		t.Errorf("no metadata anywhere: got %v, want nil", got)
	}
}

func TestClock(t *testing.T) {
	doc := `{"flags": {"window": {"state": "ENABLED", "variants": {"early": 1, "late": 2}, "defaultVariant": "early",
	  "targeting": {"if": [{">=": [{"var": "$flagd.timestamp"}, 1767225600]}, "late", "early"]}}}}`
	for _, tc := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC), "early"},
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "late"},
	} {
		s := mustCompile(t, doc, evaluation.Options{Now: func() time.Time { return tc.now }})
		if got := s.Evaluate("window", nil).Variant; got != tc.want {
			t.Errorf("at %v: got %q, want %q", tc.now, got, tc.want)
		}
	}
}

func TestSnapshotAccessors(t *testing.T) {
	set := setOf(t, reasonsSet)
	s, err := evaluation.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	if s.Set() != set {
		t.Error("Set() does not return the compiled set")
	}
	keys := s.Keys()
	if len(keys) != len(set.Flags) {
		t.Fatalf("Keys() has %d keys, want %d", len(keys), len(set.Flags))
	}
	for i := 1; i < len(keys); i++ {
		if keys[i-1] >= keys[i] {
			t.Errorf("Keys() not sorted: %q before %q", keys[i-1], keys[i])
		}
	}
	ctx := map[string]any{"email": "a@example.com", "targetingKey": "u1", "n": 1}
	all := s.EvaluateAll(ctx, nil)
	if len(all) != len(keys) {
		t.Fatalf("EvaluateAll returned %d results, want %d", len(all), len(keys))
	}
	for i, r := range all {
		if want := s.Evaluate(keys[i], ctx); !reflect.DeepEqual(r, want) {
			t.Errorf("EvaluateAll[%d] = %+v, want %+v", i, r, want)
		}
	}
}

func TestETag(t *testing.T) {
	a := `{"flags": {"f": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on",
	  "targeting": {"if": [{"==": [{"var": "x"}, 1]}, "on", "off"]}}}}`
	b := `{"flags":{"f":{"defaultVariant":"on","variants":{"off":false,"on":true},"state":"ENABLED",
	  "targeting":{"if":[{"==":[{"var":"x"},1]},"on","off"]}}}}`
	c := strings.Replace(a, `"x"`, `"y"`, 1)
	ea := mustCompile(t, a, evaluation.Options{}).ETag()
	if eb := mustCompile(t, b, evaluation.Options{}).ETag(); ea != eb {
		t.Errorf("equal sets, different ETags: %s %s", ea, eb)
	}
	if ec := mustCompile(t, c, evaluation.Options{}).ETag(); ea == ec {
		t.Errorf("different sets, same ETag %s", ea)
	}
	if !strings.HasPrefix(ea, `"`) || !strings.HasSuffix(ea, `"`) || len(ea) < 10 {
		t.Errorf("ETag %s is not a quoted entity tag", ea)
	}
}

func TestResolve(t *testing.T) {
	hit := func(v any) evaluation.Result {
		return evaluation.Result{FlagKey: "f", Value: v, Variant: "v", Reason: evaluation.ReasonTargetingMatch}
	}
	none := evaluation.Result{FlagKey: "f", Reason: evaluation.ReasonDisabled}
	check := func(name string, got, want any, r evaluation.Result, reason evaluation.Reason, code evaluation.ErrorCode) {
		t.Helper()
		if !reflect.DeepEqual(got, want) || r.Reason != reason || r.ErrorCode != code {
			t.Errorf("%s: got %v (%s %s), want %v (%s %s)", name, got, r.Reason, r.ErrorCode, want, reason, code)
		}
	}
	b, r := evaluation.ResolveBool(hit(true), false)
	check("bool", b, true, r, evaluation.ReasonTargetingMatch, "")
	b, r = evaluation.ResolveBool(hit("yes"), false)
	check("bool from string", b, false, r, evaluation.ReasonError, evaluation.TypeMismatch)
	b, r = evaluation.ResolveBool(none, true)
	check("bool without value", b, true, r, evaluation.ReasonDisabled, "")
	s, r := evaluation.ResolveString(hit("x"), "d")
	check("string", s, "x", r, evaluation.ReasonTargetingMatch, "")
	s, r = evaluation.ResolveString(hit(1.0), "d")
	check("string from number", s, "d", r, evaluation.ReasonError, evaluation.TypeMismatch)
	f, r := evaluation.ResolveFloat(hit(0.5), 1)
	check("float", f, 0.5, r, evaluation.ReasonTargetingMatch, "")
	f, r = evaluation.ResolveFloat(hit(true), 1)
	check("float from bool", f, 1.0, r, evaluation.ReasonError, evaluation.TypeMismatch)
	i, r := evaluation.ResolveInt(hit(10.0), 1)
	check("int", i, int64(10), r, evaluation.ReasonTargetingMatch, "")
	i, r = evaluation.ResolveInt(hit(2.9), 1)
	check("int truncates", i, int64(2), r, evaluation.ReasonTargetingMatch, "")
	i, r = evaluation.ResolveInt(hit("uno"), 13)
	check("int from string", i, int64(13), r, evaluation.ReasonError, evaluation.TypeMismatch)
	i, r = evaluation.ResolveInt(hit(1e300), 13)
	check("int out of range", i, int64(13), r, evaluation.ReasonError, evaluation.TypeMismatch)
	o, r := evaluation.ResolveObject(hit(map[string]any{"a": 1.0}), nil)
	check("object", o, map[string]any{"a": 1.0}, r, evaluation.ReasonTargetingMatch, "")
	o, r = evaluation.ResolveObject(hit(1.0), "d")
	check("object from number", o, "d", r, evaluation.ReasonError, evaluation.TypeMismatch)
	if r.Value != nil || r.Variant != "" || !strings.Contains(r.ErrorMessage, "not an object") {
		t.Errorf("type mismatch result keeps value %v / variant %q, message %q", r.Value, r.Variant, r.ErrorMessage)
	}
}

func TestConcurrentEvaluate(t *testing.T) {
	s := mustCompile(t, reasonsSet, evaluation.Options{})
	ctxs := []map[string]any{
		{"email": "a@example.com", "targetingKey": "u1", "n": 1},
		{"email": "b@example.org", "targetingKey": "u2", "n": 2},
	}
	want := [][]evaluation.Result{s.EvaluateAll(ctxs[0], nil), s.EvaluateAll(ctxs[1], nil)}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := (g + i) % 2
				if got := s.EvaluateAll(ctxs[k], nil); !reflect.DeepEqual(got, want[k]) {
					errs <- fmt.Sprintf("goroutine %d: results differ", g)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestValidation(t *testing.T) {
	flag := func(body string) string { return `{"flags": {"f": ` + body + `}}` }
	cases := []struct {
		name, doc string
		path, msg string // one expected problem
		lenientOK bool   // CompileWith(Lenient) accepts it
	}{
		{"bad state", flag(`{"state": "on", "variants": {"a": 1}, "defaultVariant": "a"}`), "/flags/f/state", "ENABLED", false},
		{"no state", flag(`{"variants": {"a": 1}, "defaultVariant": "a"}`), "/flags/f/state", "required", false},
		{"no variants", flag(`{"state": "ENABLED", "variants": {}}`), "/flags/f/variants", "at least one", false},
		{"mixed variants", flag(`{"state": "ENABLED", "variants": {"a": 1, "b": "x"}, "defaultVariant": "a"}`), "/flags/f/variants/b", "one type", false},
		{"array variant", flag(`{"state": "ENABLED", "variants": {"a": [1]}, "defaultVariant": "a"}`), "/flags/f/variants/a", "objects", false},
		{"null variant", flag(`{"state": "ENABLED", "variants": {"a": null}}`), "/flags/f/variants/a", "null", false},
		{"unknown default", flag(`{"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "b"}`), "/flags/f/defaultVariant", `"b"`, false},
		{"bad flag metadata", flag(`{"state": "ENABLED", "variants": {"a": 1}, "metadata": {"x": [1]}}`), "/flags/f/metadata/x", "metadata", false},
		{"bad set metadata", `{"metadata": {"version": 2}, "flags": {}}`, "/metadata/version", "string", false},
		{"unknown operator", flag(`{"state": "ENABLED", "variants": {"a": 1}, "targeting": {"if": [{"log": "x"}, "a", null]}}`), "/flags/f/targeting/if/0/log", `unknown operator "log"`, true},
		{"missing ref", flag(`{"state": "ENABLED", "variants": {"a": 1}, "targeting": {"if": [{"$ref": "nope"}, "a", null]}}`), "/flags/f/targeting/if/0/$ref", `"nope"`, true},
		{"ref cycle", `{"$evaluators": {"x": {"!": [{"$ref": "y"}]}, "y": {"!": [{"$ref": "x"}]}}, "flags": {}}`, "/$evaluators/y/!/0/$ref", "itself", true},
		{"empty evaluator", `{"$evaluators": {"x": {}}, "flags": {}}`, "/$evaluators/x", "empty", false},
		{"broken evaluator", `{"$evaluators": {"x": {"sem_ver": ["1", "=="]}}, "flags": {}}`, "/$evaluators/x/sem_ver", "3 arguments", true},
		{"arity", flag(`{"state": "ENABLED", "variants": {"a": 1}, "targeting": {"if": [{"==": [1]}, "a", null]}}`), "/flags/f/targeting/if/0/==", "2 arguments", true},
		{"if not array", flag(`{"state": "ENABLED", "variants": {"a": 1}, "targeting": {"if": true}}`), "/flags/f/targeting/if", "array", true},
		{"not a variant", flag(`{"state": "ENABLED", "variants": {"on": 1, "off": 2}, "targeting": {"if": [true, "on", "of"]}}`), "/flags/f/targeting/if/2", `"of"`, true},
		{"bool not a variant", flag(`{"state": "ENABLED", "variants": {"on": 1}, "targeting": {"==": [1, 1]}}`), "", "", true},
		{"fractional weight", flag(`{"state": "ENABLED", "variants": {"a": 1}, "targeting": {"fractional": [["a", 1.5]]}}`), "/flags/f/targeting/fractional/0/1", "whole number", true},
		{"fractional variant", flag(`{"state": "ENABLED", "variants": {"a": 1}, "targeting": {"fractional": [["b", 1]]}}`), "/flags/f/targeting/fractional/0/0", `"b"`, true},
		{"fractional zero", flag(`{"state": "ENABLED", "variants": {"a": 1}, "targeting": {"fractional": [["a", 0]]}}`), "/flags/f/targeting/fractional", "0", true},
		{"sem_ver operator", flag(`{"state": "ENABLED", "variants": {"true": 1}, "targeting": {"sem_ver": [{"var": "v"}, "=>", "1.0.0"]}}`), "/flags/f/targeting/sem_ver/1", "operator", true},
		{"sem_ver version", flag(`{"state": "ENABLED", "variants": {"true": 1}, "targeting": {"sem_ver": [{"var": "v"}, ">", "1.0.0.1"]}}`), "/flags/f/targeting/sem_ver/2", "semantic version", true},
		{"starts_with number", flag(`{"state": "ENABLED", "variants": {"true": 1}, "targeting": {"starts_with": [{"var": "v"}, 1]}}`), "/flags/f/targeting/starts_with/1", "strings", true},
		{"targeting not object", flag(`{"state": "ENABLED", "variants": {"on": 1}, "targeting": "on"}`), "/flags/f/targeting", "object", true},
		{"targeting not JSON", `{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}}}}`, "", "", false},
		{"escaped key", `{"flags": {"a/b~c": {"state": "ENABLED", "variants": {"x": 1}, "defaultVariant": "y"}}}`, "/flags/a~1b~0c/defaultVariant", "not one of", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set := setOf(t, tc.doc)
			if tc.name == "targeting not JSON" {
				set.Flags["f"].Targeting = json.RawMessage(`{"if": [`)
				tc.path, tc.msg = "/flags/f/targeting", "not valid JSON"
			}
			if tc.name == "bool not a variant" {
				tc.path, tc.msg = "/flags/f/targeting", `"true"`
			}
			_, err := evaluation.Compile(set)
			var ve *valueloop.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Compile: got %v, want a *ValidationError", err)
			}
			found := false
			for _, p := range ve.Problems {
				if p.Path == tc.path && strings.Contains(p.Message, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("got problems %v,\nwant one at %s containing %q", ve.Problems, tc.path, tc.msg)
			}
			if valueloop.ErrorCode(err) != valueloop.EINVALID {
				t.Errorf("error code %s, want %s", valueloop.ErrorCode(err), valueloop.EINVALID)
			}
			_, err = evaluation.CompileWith(set, evaluation.Options{Lenient: true})
			if (err == nil) != tc.lenientOK {
				t.Errorf("lenient Compile: got %v, want accepted=%v", err, tc.lenientOK)
			}
		})
	}
}

func TestLenientRuntimeFailures(t *testing.T) {
	s := mustCompile(t, `{"flags": {
	  "unknown-op": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "b", "targeting": {"if": [{"log": "x"}, "a", null]}},
	  "missing-ref": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "b", "targeting": {"if": [{"$ref": "nope"}, "a", null]}},
	  "wrong-args": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "b", "targeting": {"starts_with": ["x"]}},
	  "not-a-variant": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "b", "targeting": {"if": [true, "c", "a"]}}
	}}`, evaluation.Options{Lenient: true})
	for key, want := range map[string]evaluation.ErrorCode{"unknown-op": evaluation.ParseError, "missing-ref": evaluation.ParseError, "wrong-args": "", "not-a-variant": evaluation.General} {
		if r := s.Evaluate(key, nil); r.ErrorCode != want {
			t.Errorf("%s: got %+v, want error code %q", key, r, want)
		}
	}
}

func TestCheckFlag(t *testing.T) {
	f := &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"on": true, "off": false}, DefaultVariant: ptr("on"),
		Targeting: json.RawMessage(`{"if": [{"$ref": "staff"}, "on", "of"]}`)}
	ps := evaluation.CheckFlag("f", f, nil)
	if len(ps) != 1 || ps[0].Path != "/flags/f/targeting/if/2" {
		t.Errorf("CheckFlag without evaluators: got %v, want only the bad variant at /flags/f/targeting/if/2", ps)
	}
	ps = evaluation.CheckFlag("f", f, map[string]json.RawMessage{"other": json.RawMessage(`{"var": "x"}`)})
	if len(ps) != 2 {
		t.Errorf("CheckFlag with evaluators: got %v, want the missing $ref and the bad variant", ps)
	}
	// A broken evaluator is the set's problem, reported when the set is
	// compiled; the flag that refers to it is not blamed for it.
	good := &valueloop.Flag{State: "ENABLED", Variants: map[string]any{"on": true, "off": false}, DefaultVariant: ptr("on"),
		Targeting: json.RawMessage(`{"if": [{"$ref": "staff"}, "on", "off"]}`)}
	broken := map[string]json.RawMessage{"staff": json.RawMessage(`{"nope": [1]}`)}
	if ps := evaluation.CheckFlag("f", good, broken); len(ps) != 0 {
		t.Errorf("CheckFlag with a broken evaluator: got %v, want no problem of the flag", ps)
	}
	_, err := evaluation.Compile(&valueloop.FlagSet{Flags: map[string]*valueloop.Flag{"f": good}, Evaluators: broken})
	var ve *valueloop.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Path != "/$evaluators/staff/nope" {
		t.Errorf("Compile with a broken evaluator: got %v, want one problem at /$evaluators/staff/nope", err)
	}
}

func ptr(s string) *string { return &s }

func TestOperatorsListed(t *testing.T) {
	ops := evaluation.Operators()
	for _, want := range []string{"var", "if", "fractional", "sem_ver", "starts_with", "ends_with", "in", "reduce", "missing_some"} {
		found := false
		for _, op := range ops {
			found = found || op == want
		}
		if !found {
			t.Errorf("Operators() = %v, missing %q", ops, want)
		}
	}
}
