package evaluation_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/evaluation"
)

// Reference figures for flagd's own evaluator (JSON round trip of rule and
// context per evaluation): about 3 µs and 23 allocations for a static flag,
// 25–30 µs and 130 allocations for an email rule or a fractional split.
// Run: go test ./evaluation -run '^$' -bench . -benchmem -benchtime 1s

func benchSnapshot(b *testing.B, flags map[string]string, evaluators map[string]string) *evaluation.Snapshot {
	b.Helper()
	set := &valueloop.FlagSet{Flags: map[string]*valueloop.Flag{}}
	for key, def := range flags {
		f := &valueloop.Flag{}
		if err := json.Unmarshal([]byte(def), f); err != nil {
			b.Fatalf("flag %s: %v", key, err)
		}
		set.Flags[key] = f
	}
	if len(evaluators) > 0 {
		set.Evaluators = map[string]json.RawMessage{}
		for name, body := range evaluators {
			set.Evaluators[name] = json.RawMessage(body)
		}
	}
	s, err := evaluation.Compile(set)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

const targetingRule = `{"if": [{"and": [
	{"ends_with": [{"var": "email"}, "@example.com"]},
	{"in": [{"var": "country"}, ["NL", "BE", "DE"]]},
	{"sem_ver": [{"var": "appVersion"}, ">=", "2.3.0"]}
]}, "on", "off"]}`

var benchCtx = map[string]any{
	"targetingKey": "user-1234",
	"email":        "ada@example.com",
	"country":      "BE",
	"appVersion":   "2.4.1",
}

func bench(b *testing.B, s *evaluation.Snapshot, key, wantVariant string) {
	b.Helper()
	if r := s.Evaluate(key, benchCtx); r.Variant != wantVariant {
		b.Fatalf("Evaluate(%s) = %+v, want variant %q", key, r, wantVariant)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.Evaluate(key, benchCtx)
	}
}

func BenchmarkStatic(b *testing.B) {
	s := benchSnapshot(b, map[string]string{
		"static": `{"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"}`,
	}, nil)
	bench(b, s, "static", "on")
}

func BenchmarkTargeting(b *testing.B) {
	s := benchSnapshot(b, map[string]string{
		"rule": `{"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off", "targeting": ` + targetingRule + `}`,
	}, nil)
	bench(b, s, "rule", "on")
}

func BenchmarkFractional(b *testing.B) {
	s := benchSnapshot(b, map[string]string{
		"split": `{"state": "ENABLED", "variants": {"a": "a", "b": "b", "c": "c"}, "defaultVariant": "a",
			"targeting": {"fractional": [["a", 25], ["b", 25], ["c", 50]]}}`,
	}, nil)
	r := s.Evaluate("split", benchCtx)
	bench(b, s, "split", r.Variant)
}

func BenchmarkSemVer(b *testing.B) {
	s := benchSnapshot(b, map[string]string{
		"semver": `{"state": "ENABLED", "variants": {"new": "new", "old": "old"}, "defaultVariant": "old",
			"targeting": {"if": [{"sem_ver": [{"var": "appVersion"}, "^", "2.0.0"]}, "new", "old"]}}`,
	}, nil)
	bench(b, s, "semver", "new")
}

func BenchmarkRef(b *testing.B) {
	s := benchSnapshot(b, map[string]string{
		"ref": `{"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
			"targeting": {"if": [{"$ref": "staff"}, "on", "off"]}}`,
	}, map[string]string{
		"staff": `{"ends_with": [{"var": "email"}, "@example.com"]}`,
	})
	bench(b, s, "ref", "on")
}

// BenchmarkBulk evaluates a 50-flag set (OFREP bulk evaluation): 20 static
// flags, 20 targeting rules, 10 fractional splits.
func BenchmarkBulk(b *testing.B) {
	flags := map[string]string{}
	for i := range 20 {
		flags[fmt.Sprintf("static-%02d", i)] = `{"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"}`
		flags[fmt.Sprintf("rule-%02d", i)] = `{"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off", "targeting": ` + targetingRule + `}`
	}
	for i := range 10 {
		flags[fmt.Sprintf("split-%02d", i)] = `{"state": "ENABLED", "variants": {"a": "a", "b": "b"}, "defaultVariant": "a",
			"targeting": {"fractional": [["a", 50], ["b", 50]]}}`
	}
	s := benchSnapshot(b, flags, nil)
	dst := make([]evaluation.Result, 0, 50)
	if got := len(s.EvaluateAll(benchCtx, dst)); got != 50 {
		b.Fatalf("EvaluateAll returned %d results, want 50", got)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		dst = s.EvaluateAll(benchCtx, dst[:0])
	}
}
