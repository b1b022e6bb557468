package evaluation

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/diegoholiveira/jsonlogic/v3"
)

// FuzzJsonLogicOracle is a differential test: a random rule, compiled here
// as flagd would load it, must give on random data what
// github.com/diegoholiveira/jsonlogic/v3 (v3.9.1, the version flagd v0.16.1
// uses) gives, its errors and panics counting as one answer, ERROR, as flagd
// turns both into PARSE_ERROR. The seed corpus (fuzzRules of fuzz_test.go's
// kind, plus testdata/fuzz/FuzzJsonLogicOracle) runs in the normal suite; run
// go test ./evaluation -run '^$' -fuzz FuzzJsonLogicOracle to search further.
//
// Compared: the operators both implement, which is the library's whole set.
// Not compared, because only flagd adds them around the library: fractional,
// sem_ver, starts_with, ends_with and $ref. The $flagd context properties are
// compared: the library gets them in its data, as flagd puts them there.
//
// Deliberate differences, skipped when they are the cause of a mismatch
// (see the package doc):
//   - Data that looks like a rule: where the library would run an object of
//     one key taken from the data as an operation, Valueloop answers ERROR.
//   - A var whose path is computed inside filter, some, all, none, map or
//     reduce is evaluated once rather than once per enclosing scope.
func FuzzJsonLogicOracle(f *testing.F) {
	datas := []string{
		`{"x": 1, "y": "1", "n": 3, "m": 0, "s": "abc", "items": [{"qty": 2}, {"qty": 0}], "nums": [1, 2, "3"], "roles": ["admin"], "b": true}`,
		`{"x": null, "y": [1, 2], "n": -1.5, "m": "7", "s": "", "items": [], "nums": [], "z": {"a": 1}}`,
	}
	rules := []string{
		`{"==": [{"var": "x"}, {"var": "y"}]}`, `{"===": [{"var": "x"}, {"var": "y"}]}`,
		`{"!=": [{"var": "x"}, "1"]}`, `{"!==": [{"var": "x"}, 1]}`,
		`{"<": [{"var": "n"}, {"var": "m"}, 10]}`, `{"<=": [1, {"var": "n"}]}`, `{">": [{"var": "m"}, "5"]}`, `{">=": [{"var": "n"}, null]}`,
		`{"!": {"var": "x"}}`, `{"!!": [{"var": "items"}]}`,
		`{"and": [{"var": "x"}, {"var": "s"}, 0]}`, `{"or": [{"var": "m"}, {"var": "s"}, "a"]}`,
		`{"if": [{"var": "b"}, "yes", {"var": "x"}, "x", "no"]}`, `{"?:": [{"var": "x"}, 1, 2]}`,
		`{"+": [{"var": "n"}, "2", 1.5]}`, `{"-": [{"var": "n"}]}`, `{"*": [{"var": "n"}, {"var": "m"}]}`,
		`{"/": [{"var": "n"}, 2]}`, `{"%": [{"var": "n"}, 2]}`, `{"max": [{"var": "n"}, 2, "7"]}`, `{"min": [{"var": "nums"}]}`,
		`{"cat": ["a", {"var": "n"}, null, true]}`, `{"substr": [{"var": "s"}, -2, 1]}`,
		`{"in": [{"var": "s"}, "xabcx"]}`, `{"in": ["admin", {"var": "roles"}]}`,
		`{"merge": [{"var": "nums"}, [4, [5]], 6]}`,
		`{"map": [{"var": "items"}, {"*": [{"var": "qty"}, 2]}]}`,
		`{"filter": [{"var": "nums"}, {">": [{"var": ""}, 1]}]}`,
		`{"reduce": [{"var": "nums"}, {"+": [{"var": "current"}, {"var": "accumulator"}]}, 0]}`,
		`{"all": [{"var": "items"}, {">=": [{"var": "qty"}, 0]}]}`, `{"some": [{"var": "roles"}, {"==": [{"var": ""}, "admin"]}]}`,
		`{"none": [{"var": "items"}, {"var": "qty"}]}`,
		`{"missing": ["x", "q", "z.a"]}`, `{"missing_some": [1, ["x", "q", "s"]]}`,
		`{"var": ["q", "default"]}`, `{"var": "items.0.qty"}`, `{"var": ""}`,
		`{"cat": [{"var": "$flagd.flagKey"}, "@", {"var": "$flagd.timestamp"}]}`,
		`[1, {"var": "s"}]`, `"literal"`,
	}
	for _, r := range rules {
		for _, d := range datas {
			f.Add(r, d)
		}
	}
	f.Fuzz(func(t *testing.T, rule, data string) {
		var r, d1, d2 any
		if json.Unmarshal([]byte(rule), &r) != nil || json.Unmarshal([]byte(data), &d1) != nil {
			return
		}
		ctx, ok := d1.(map[string]any)
		if _, set := ctx["$flagd"]; !ok || set || flagdOnly(r) {
			return
		}
		c := &compiler{flagKey: "flag", report: true}
		got := c.compile(r, "", false).fn(env{ctx: ctx, now: 1700000000})

		// The library gets its own copies: it may modify what it is given.
		var r2 any
		json.Unmarshal([]byte(rule), &r2)
		json.Unmarshal([]byte(data), &d2)
		// flagd adds its context properties to the data it hands the library.
		d2.(map[string]any)["$flagd"] = map[string]any{"flagKey": "flag", "timestamp": 1700000000.0}
		want, wantErr := applyLibrary(r2, d2)

		if got.k == kErr && wantErr {
			return
		}
		if got.k != kErr && !wantErr && sameJSON(toAny(got), want) {
			return
		}
		if got.k == kErr && strings.Contains(got.s, "an object from the data was used as a rule") {
			return // deliberate: data is not a rule
		}
		if scopedDynamicVar(r, false) {
			return // deliberate: computed var paths inside scopes are evaluated once
		}
		gotText := "ERROR: " + got.s
		if got.k != kErr {
			gotText = fmt.Sprintf("%#v", toAny(got))
		}
		wantText := "ERROR"
		if !wantErr {
			wantText = fmt.Sprintf("%#v", want)
		}
		t.Errorf("rule %s on %s:\n got %s\nwant %s (jsonlogic v3.9.1)", rule, data, gotText, wantText)
	})
}

// applyLibrary runs the library, an error or a panic being one answer.
func applyLibrary(rule, data any) (out any, failed bool) {
	defer func() {
		if recover() != nil {
			out, failed = nil, true
		}
	}()
	out, err := jsonlogic.ApplyInterface(rule, data)
	return out, err != nil
}

// flagdOnly reports a rule that uses what flagd adds around the library.
func flagdOnly(rule any) bool {
	switch x := rule.(type) {
	case map[string]any:
		for k, v := range x {
			switch k {
			case "fractional", "sem_ver", "starts_with", "ends_with", "$ref":
				return true
			}
			if flagdOnly(v) {
				return true
			}
		}
	case []any:
		for _, v := range x {
			if flagdOnly(v) {
				return true
			}
		}
	}
	return false
}

// scopedDynamicVar reports a var whose path is an expression, inside an
// operation that evaluates its argument once per element.
func scopedDynamicVar(rule any, inScope bool) bool {
	switch x := rule.(type) {
	case map[string]any:
		for k, v := range x {
			if k == "var" && inScope {
				path := v
				if a, ok := v.([]any); ok && len(a) > 0 {
					path = a[0]
				}
				switch path.(type) {
				case map[string]any, []any:
					return true
				}
			}
			scope := inScope
			switch k {
			case "filter", "some", "all", "none", "map", "reduce":
				scope = true
			}
			if scopedDynamicVar(v, scope) {
				return true
			}
		}
	case []any:
		for _, v := range x {
			if scopedDynamicVar(v, inScope) {
				return true
			}
		}
	}
	return false
}

// sameJSON compares two JSON values, numbers by value whatever their Go
// type, NaN equal to NaN.
func sameJSON(a, b any) bool {
	if fa, ok := number(a); ok {
		fb, ok := number(b)
		return ok && (fa == fb || math.IsNaN(fa) && math.IsNaN(fb))
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool, string:
		return a == b
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameJSON(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}
