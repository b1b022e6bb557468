package flagd_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/flagd"
)

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustParse(tb testing.TB, name string) *valueloop.FlagSet {
	tb.Helper()
	set, err := flagd.Parse(name, mustRead(tb, name))
	if err != nil {
		tb.Fatalf("Parse(%s): %v", name, err)
	}
	return set
}

func TestParse(t *testing.T) {
	set := mustParse(t, "testdata/checkout.flagd.json")
	if got, want := len(set.Flags), 5; got != want {
		t.Fatalf("got %d flags, want %d", got, want)
	}
	f := set.Flags["new-checkout"]
	if f.Key != "new-checkout" || f.State != valueloop.StateEnabled || *f.DefaultVariant != "off" {
		t.Errorf("new-checkout: got key %q state %q default %q", f.Key, f.State, *f.DefaultVariant)
	}
	if want := map[string]any{"on": true, "off": false}; !reflect.DeepEqual(f.Variants, want) {
		t.Errorf("variants: got %v, want %v", f.Variants, want)
	}
	if want := map[string]any{"owner": "payments", "ticket": 1234.0}; !reflect.DeepEqual(f.Metadata, want) {
		t.Errorf("metadata: got %v, want %v", f.Metadata, want)
	}
	if !bytes.HasPrefix(f.Targeting, []byte(`{"if":[{"and":[{"$ref":"staff"}`)) {
		t.Errorf("targeting is not kept compact and in order: %s", f.Targeting)
	}
	if set.Flags["code-default"].DefaultVariant != nil {
		t.Errorf("a null defaultVariant must stay nil")
	}
	if want := map[string]any{"flagSetId": "checkout", "version": "3"}; !reflect.DeepEqual(set.Metadata, want) {
		t.Errorf("set metadata: got %v, want %v", set.Metadata, want)
	}
	if got := string(set.Evaluators["staff"]); got != `{"ends_with":[{"var":"email"},"@example.com"]}` {
		t.Errorf("evaluator staff: got %s", got)
	}

	s, err := evaluation.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Evaluate("new-checkout", map[string]any{"email": "ada@example.com", "appVersion": "2.4.0"})
	if r.Variant != "on" || r.Reason != evaluation.ReasonTargetingMatch {
		t.Errorf("new-checkout for staff on a beta app: got %+v", r)
	}
	r = s.Evaluate("max-items", map[string]any{"age": 12})
	if r.Value != 3.0 {
		t.Errorf("max-items for a child: got %+v, want 3", r)
	}
}

func TestParseYAML(t *testing.T) {
	fromJSON := mustParse(t, "testdata/checkout.flagd.json")
	fromYAML := mustParse(t, "testdata/checkout.flagd.yaml")
	if !reflect.DeepEqual(fromJSON, fromYAML) {
		a, _ := flagd.Marshal(fromJSON)
		b, _ := flagd.Marshal(fromYAML)
		t.Errorf("YAML and JSON files differ:\n%s\n%s", a, b)
	}
	// Content sniffing: YAML without a .yaml name.
	if _, err := flagd.Parse("api", []byte("flags:\n  f:\n    state: ENABLED\n    variants: {a: 1}\n")); err != nil {
		t.Errorf("YAML content from a source without extension: %v", err)
	}
}

// mustRoundTrip returns Parse(Marshal(set)) and the marshalled text.
func mustRoundTrip(t *testing.T, set *valueloop.FlagSet) (*valueloop.FlagSet, []byte) {
	t.Helper()
	out, err := flagd.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	again, err := flagd.Parse("marshalled.json", out)
	if err != nil {
		t.Fatalf("Parse(Marshal(set)): %v\n%s", err, out)
	}
	return again, out
}

func TestMarshalRoundTrip(t *testing.T) {
	set := mustParse(t, "testdata/checkout.flagd.json")
	again, out := mustRoundTrip(t, set)
	if !reflect.DeepEqual(set, again) {
		t.Errorf("Parse(Marshal(set)) differs from set:\n%s", out)
	}
	out2, err := flagd.Marshal(again)
	if err != nil || !bytes.Equal(out, out2) {
		t.Errorf("Marshal is not stable: %v\n%s\n%s", err, out, out2)
	}
	text := string(out)
	if !strings.HasPrefix(text, "{\n  \"$schema\": \""+flagd.SchemaURL+"\",\n  \"flags\": {") {
		t.Errorf("Marshal output does not start with $schema and flags:\n%.200s", text)
	}
	if strings.Contains(text, `\u003c`) || !strings.Contains(text, `"<"`) {
		t.Errorf("Marshal escaped the < operator:\n%s", text)
	}
	if !strings.Contains(text, `"defaultVariant": null`) {
		t.Errorf("a null defaultVariant is not written as null")
	}
	// Equal content gives equal snapshots' ETags.
	s1, _ := evaluation.Compile(set)
	s2, _ := evaluation.Compile(again)
	if s1.ETag() != s2.ETag() {
		t.Errorf("ETag changed across a round trip: %s %s", s1.ETag(), s2.ETag())
	}
}

func TestMarshalNil(t *testing.T) {
	if _, err := flagd.Marshal(nil); err == nil {
		t.Error("Marshal(nil): got no error")
	}
	if _, err := flagd.Marshal(&valueloop.FlagSet{Flags: map[string]*valueloop.Flag{"x": nil}}); err == nil {
		t.Error("Marshal with a nil flag: got no error")
	}
}

// problems returns the problems of a failed Parse.
func problems(t *testing.T, err error) []valueloop.Problem {
	t.Helper()
	var ve *valueloop.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a *ValidationError", err)
	}
	return ve.Problems
}

func hasProblem(ps []valueloop.Problem, path, msg string) bool {
	for _, p := range ps {
		if p.Path == path && strings.Contains(p.Message, msg) {
			return true
		}
	}
	return false
}

// longKey is 199 characters, one short of the longest flag key.
var longKey = strings.Repeat("checkout-", 22) + "a"

func TestParseProblems(t *testing.T) {
	const ok = `"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a"`
	cases := []struct {
		name, doc, path, msg string
	}{
		{"not JSON", "{\n  \"flags\": {,\n}", "", "line 2, column 13"},
		{"empty", "  ", "", "empty"},
		{"not an object", `[1, 2]`, "", "JSON object"},
		{"no flags", `{"metadata": {}}`, "/flags", "needs"},
		{"flags not object", `{"flags": 5}`, "/flags", "object"},
		{"unknown top field", `{"flags": {}, "flagz": {}}`, "/flagz", `unknown field "flagz"`},
		{"bad $schema", `{"$schema": 1, "flags": {}}`, "/$schema", "string"},
		{"unknown flag field", `{"flags": {"f": {` + ok + `, "defaultvariant": "a"}}}`, "/flags/f/defaultvariant", "unknown field"},
		{"key in map form", `{"flags": {"f": {` + ok + `, "key": "f"}}}`, "/flags/f/key", "unknown field"},
		{"flag not object", `{"flags": {"f": true}}`, "/flags/f", "object"},
		{"state not string", `{"flags": {"f": {"state": true, "variants": {"a": 1}}}}`, "/flags/f/state", "ENABLED"},
		{"variants not object", `{"flags": {"f": {"state": "ENABLED", "variants": [1]}}}`, "/flags/f/variants", "object"},
		{"default not string", `{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": 1}}}`, "/flags/f/defaultVariant", "name or null"},
		{"metadata not object", `{"flags": {"f": {` + ok + `, "metadata": 1}}}`, "/flags/f/metadata", "object"},
		{"empty key", `{"flags": {"": {` + ok + `}}}`, "/flags/", "empty"},
		{"duplicate flag", `{"flags": {"f": {` + ok + `}, "f": {` + ok + `}}}`, "/flags/f", "more than once"},
		{"duplicate variant", `{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1, "a": 2}}}}`, "/flags/f/variants/a", "more than once"},
		// A flag key may have 200 characters: the path names it whole,
		// else two flags alike in their first 64 were one path.
		// A duplicate key was cut at its 64th byte, inside the "ö"
		// (\xc3): a key a flag may have is quoted whole.
		{"duplicate unicode key", `{"flags": {"` + strings.Repeat("a", 63) + `ö": {` + ok + `}, "` + strings.Repeat("a", 63) + `ö": {` + ok + `}}}`, "/flags/" + strings.Repeat("a", 63) + "ö", `key "` + strings.Repeat("a", 63) + `ö" appears more than once`},
		// A refused key is cut at 64 bytes, before the character they split.
		{"invalid key cut", `{"flags": {"` + strings.Repeat("a", 63) + `ö/": {` + ok + `}}}`, "/flags", `flag key "` + strings.Repeat("a", 63) + `…" must be`},
		{"duplicate variant of a long key", `{"flags": {"` + longKey + `x": {` + ok + `}, "` + longKey + `y": {"state": "ENABLED", "variants": {"a": 1, "a": 2}}}}`, "/flags/" + longKey + "y/variants/a", "more than once"},
		{"semantic problem from Compile", `{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "b"}}}`, "/flags/f/defaultVariant", "not one of"},
		{"targeting problem", `{"flags": {"f": {` + ok + `, "targeting": {"if": [{"==": [{"var": "x"}]}, "a", null]}}}}`, "/flags/f/targeting/if/0/==", "2 arguments"},
		{"evaluators not object", `{"flags": {}, "$evaluators": []}`, "/$evaluators", "object"},
		{"array form index paths", `{"flags": [{"key": "a", ` + ok + `}, {"key": "b", "state": "ENABLED", "variants": {"x": 1}, "defaultVariant": "y"}]}`, "/flags/1/defaultVariant", "not one of"},
		{"array form without key", `{"flags": [{` + ok + `}]}`, "/flags/0/key", "key"},
		{"array form duplicate key", `{"flags": [{"key": "a", ` + ok + `}, {"key": "a", ` + ok + `}]}`, "/flags/1/key", "twice"},
		{"bad YAML", "flags: [\n", "", "YAML"},
		{"deep targeting", `{"flags": {"f": {` + ok + `, "targeting": ` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}}}`, "", "deeper than 128 levels"},
		{"deep YAML", "flags:\n  f: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n", "", "deeper than 128 levels"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := flagd.Parse("flags.json", []byte(tc.doc))
			ps := problems(t, err)
			if !hasProblem(ps, tc.path, tc.msg) {
				t.Errorf("got %v,\nwant a problem at %q containing %q", ps, tc.path, tc.msg)
			}
			for _, p := range ps {
				if p.Source != "flags.json" {
					t.Errorf("problem %v does not name its source", p)
				}
			}
		})
	}
}

func TestParseReportsEverything(t *testing.T) {
	doc := `{"flags": {
	  "a": {"state": "on", "variants": {"x": 1}},
	  "b": {"state": "ENABLED", "variants": {"x": 1, "y": "s"}},
	  "c": {"state": "ENABLED", "variants": {"x": 1}, "colour": 1}
	}}`
	ps := problems(t, mustFail(t, doc))
	for _, want := range []struct{ path, msg string }{
		{"/flags/a/state", "ENABLED"},
		{"/flags/b/variants/y", "one type"},
		{"/flags/c/colour", "unknown field"},
	} {
		if !hasProblem(ps, want.path, want.msg) {
			t.Errorf("got %v, want a problem at %s", ps, want.path)
		}
	}
	if ps[0].Flag == "" && ps[0].Path != "" {
		t.Errorf("problem %v does not name its flag", ps[0])
	}
}

func mustFail(t *testing.T, doc string) error {
	t.Helper()
	_, err := flagd.Parse("f.json", []byte(doc))
	if err == nil {
		t.Fatal("Parse: got no error")
	}
	return err
}

func TestParseArrayForm(t *testing.T) {
	set, err := flagd.Parse("daemon.json", []byte(`{"flags": [
	  {"key": "a", "state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"},
	  {"key": "b", "state": "DISABLED", "variants": {"on": true}, "defaultVariant": "on"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Flags) != 2 || set.Flags["a"].Key != "a" || set.Flags["b"].State != valueloop.StateDisabled {
		t.Errorf("array form: got %+v", set.Flags)
	}
}

func TestParseLenient(t *testing.T) {
	doc := []byte(`{"flags": {
	  "f": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "b", "source": "x",
	        "targeting": {"if": [{"$ref": "nope"}, "a", "c"]}}
	}, "extra": true}`)
	if _, err := flagd.Parse("x.json", doc); err == nil {
		t.Fatal("strict Parse accepted a missing $ref, an unknown field and a result that names no variant")
	}
	set, warnings, err := flagd.ParseLenient("x.json", doc)
	if err != nil {
		t.Fatalf("ParseLenient: %v", err)
	}
	if !hasProblem(warnings, "/flags/f/source", `unknown field "source" ignored`) || !hasProblem(warnings, "/extra", `unknown field "extra" ignored`) {
		t.Errorf("warnings %v; want the unknown fields source and extra named as ignored", warnings)
	}
	s, err := evaluation.CompileWith(set, evaluation.Options{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Evaluate("f", nil); r.ErrorCode != evaluation.ParseError {
		t.Errorf("missing $ref at evaluation: got %+v, want PARSE_ERROR as in flagd", r)
	}
	// Structure is still checked.
	if _, _, err := flagd.ParseLenient("x.json", []byte(`{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "z"}}}`)); err == nil {
		t.Error("ParseLenient accepted a defaultVariant that is not a variant")
	}
}

// TestParseLenientNullMetadata: a null metadata value, which flagd's schema
// refuses (strings, numbers and booleans) but flagd loads with a schema
// warning (core/pkg/evaluator/json.go), is left out by ParseLenient with a
// warning naming it; ParseLenient refused the whole file. Parse stays
// strict, as the schema.
func TestParseLenientNullMetadata(t *testing.T) {
	doc := []byte(`{"metadata": {"flagSetId": "shop", "owner": null},
	  "flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a", "metadata": {"team": null, "ticket": 7}}}}`)
	ps := problems(t, func() error { _, err := flagd.Parse("x.json", doc); return err }())
	if !hasProblem(ps, "/metadata/owner", "metadata values must be strings, numbers or booleans") || !hasProblem(ps, "/flags/f/metadata/team", "metadata values must be") {
		t.Errorf("strict Parse: %v; want both null values refused", ps)
	}
	set, warnings, err := flagd.ParseLenient("x.json", doc)
	if err != nil {
		t.Fatalf("ParseLenient refused null metadata that flagd loads: %v", err)
	}
	if !hasProblem(warnings, "/metadata/owner", "null metadata value ignored") || !hasProblem(warnings, "/flags/f/metadata/team", "null metadata value ignored") ||
		len(warnings) != 2 || warnings[0].Source != "x.json" {
		t.Errorf("warnings %v; want the two null values named, from x.json", warnings)
	}
	if _, ok := set.Metadata["owner"]; ok || set.Metadata["flagSetId"] != "shop" {
		t.Errorf("set metadata %v; want flagSetId kept and owner left out", set.Metadata)
	}
	if f := set.Flags["f"]; len(f.Metadata) != 1 || f.Metadata["ticket"] != 7.0 {
		t.Errorf("flag metadata %v; want ticket alone", f.Metadata)
	}
	s, err := evaluation.CompileWith(set, evaluation.Options{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Evaluate("f", nil); r.Value != 1.0 || r.Metadata["ticket"] != 7.0 {
		t.Errorf("evaluated %+v; want 1 with the metadata kept", r)
	}
	if _, warnings, _ := flagd.ParseLenient("x.json", []byte(`{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a", "metadata": {"team": "web"}}}}`)); len(warnings) != 0 {
		t.Errorf("a clean file warned: %v", warnings)
	}
}

func TestParseFlag(t *testing.T) {
	f, err := flagd.ParseFlag("api", "dark-mode", []byte(`{"state": "ENABLED", "variants": {"on": true, "off": false},
	  "defaultVariant": "off", "targeting": {"if": [{"$ref": "staff"}, "on", null]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Key != "dark-mode" || len(f.Variants) != 2 || string(f.Targeting) != `{"if":[{"$ref":"staff"},"on",null]}` {
		t.Errorf("got %+v", f)
	}
	_, err = flagd.ParseFlag("api", "dark-mode", []byte(`{"state": "ENABLED", "variants": {"on": true}, "targeting": {"if": [true, "of", null]}, "x": 1}`))
	ps := problems(t, err)
	if !hasProblem(ps, "/targeting/if/1", `"of"`) && !hasProblem(ps, "/x", "unknown field") {
		t.Errorf("got %v, want problems with paths relative to the flag", ps)
	}
	_, err = flagd.ParseFlag("api", "dark-mode", []byte(`{"state": "ENABLED", "variants": {"on": true}, "targeting": {"if": [true, "of", null]}}`))
	if ps := problems(t, err); !hasProblem(ps, "/targeting/if/1", `"of"`) || ps[0].Source != "api" || ps[0].Flag != "dark-mode" {
		t.Errorf("got %v, want the bad variant at /targeting/if/1 from api, flag dark-mode", ps)
	}
	if _, err := flagd.ParseFlag("api", "x", []byte(`not json`)); err == nil {
		t.Error("ParseFlag accepted text that is neither JSON nor a YAML object")
	}
}

func TestErrorKind(t *testing.T) {
	err := mustFail(t, `{"flags": {"f": {"state": "on", "variants": {"a": 1}}}}`)
	if valueloop.ErrorCode(err) != valueloop.EINVALID {
		t.Errorf("ErrorCode = %s, want %s", valueloop.ErrorCode(err), valueloop.EINVALID)
	}
	if msg := valueloop.ErrorMessage(err); !strings.Contains(msg, "f.json") || !strings.Contains(msg, "/flags/f/state") {
		t.Errorf("ErrorMessage = %q, want source and path", msg)
	}
}

func TestMarshalKeepsUnicode(t *testing.T) {
	set := &valueloop.FlagSet{Flags: map[string]*valueloop.Flag{"größe": {
		State: "ENABLED", Variants: map[string]any{"klein": "<S>", "groß": "L&"},
		Targeting: json.RawMessage(`{"if":[{"<":[{"var":"n"},2]},"klein","groß"]}`),
	}}}
	out, err := flagd.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	again, err := flagd.Parse("x.json", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for k, f := range again.Flags {
		f.Key = ""
		set.Flags[k].Key = ""
	}
	if !reflect.DeepEqual(set, again) {
		t.Errorf("round trip changed the set:\n%s", out)
	}
}

// TestLoadReturnsTheValidatingSnapshot: Load gives the set and a snapshot
// that evaluates it, and refuses what Parse refuses.
func TestLoadReturnsTheValidatingSnapshot(t *testing.T) {
	set, snap, err := flagd.Load("x.json", []byte(`{"flags":{"f":{"state":"ENABLED","variants":{"a":"a","b":"b"},"defaultVariant":"a","targeting":{"if":[{"==":[{"var":"k"},1]},"b",null]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Flags) != 1 || snap.Set() != set {
		t.Errorf("Load: %d flags, snapshot of %p, want the returned set %p", len(set.Flags), snap.Set(), set)
	}
	if got := snap.Evaluate("f", map[string]any{"k": 1.0}); got.Variant != "b" {
		t.Errorf("evaluate = %+v, want b", got)
	}
	if _, snap, err := flagd.Load("bad.json", []byte(`{"flags":{"f":{"state":"ON","variants":{"a":1}}}}`)); err == nil || snap != nil {
		t.Errorf("Load(invalid) = %v, %v; want an error and no snapshot", snap, err)
	}
}

// TestParseDeepIsCheap: a 200 KB deeply nested document is refused for its
// depth at a cost that grows with its size only (the duplicate-key check once
// took 19 s and 10.5 GB on it, by keeping a growing path per level).
func TestParseDeepIsCheap(t *testing.T) {
	for name, doc := range map[string]string{
		"json": `{"flags": {"f": {"targeting": ` + strings.Repeat(`{"a":`, 40_000) + "1" + strings.Repeat("}", 40_000) + `}}}`,
		"yaml": "flags:\n  f: " + strings.Repeat("[", 9_000) + strings.Repeat("]", 9_000) + "\n",
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := flagd.Parse("flags."+name, []byte(doc))
		runtime.ReadMemStats(&after)
		if ps := problems(t, err); !hasProblem(ps, "", "deeper than 128 levels") {
			t.Errorf("%s: got %v, want the depth refused", name, ps)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
			t.Errorf("%s: refusing it allocated %d bytes, want at most 64 MiB", name, n)
		}
	}
}

// TestFlagKeys: keys outside the grammar are refused on every way in — the
// map and array forms of a file, and one flag from the API — with a message
// that quotes (a bounded part of) the key. "." and ".." were once accepted
// and could then be neither read nor deleted.
func TestFlagKeys(t *testing.T) {
	const def = `{"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a"}`
	for _, key := range []string{"new-checkout", "ui.banner_v2", "team:feature", "_x", "größe", strings.Repeat("k", 200)} {
		if _, err := flagd.Parse("f.json", []byte(`{"flags": {`+jsonString(key)+`: `+def+`}}`)); err != nil {
			t.Errorf("key %q refused: %v", key, err)
		}
	}
	for _, key := range []string{".", "..", "a\nb", "a\x00b", " a", "a b", "a/b", "-a", strings.Repeat("k", 201), strings.Repeat("k", 70_000)} {
		files := map[string]string{
			"map form":   `{"flags": {` + jsonString(key) + `: ` + def + `}}`,
			"array form": `{"flags": [{"key": ` + jsonString(key) + `, "state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a"}]}`,
		}
		for form, doc := range files {
			_, err := flagd.Parse("f.json", []byte(doc))
			wantPath := map[string]string{"map form": "/flags", "array form": "/flags/0/key"}[form]
			if ps := problems(t, err); !hasProblem(ps, wantPath, "must be 1-200 letters") {
				t.Errorf("%s, key %.20q: got %.300v, want the key refused at %s", form, key, ps, wantPath)
			}
			if err != nil && len(err.Error()) > 1000 {
				t.Errorf("%s, key %.20q: error of %d bytes, want the key cut short", form, key, len(err.Error()))
			}
		}
		if _, err := flagd.ParseFlag("api", key, []byte(def)); err == nil {
			t.Errorf("ParseFlag(%.20q) = nil error, want the key refused", key)
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestNullTargetingKept: flagd runs "targeting": null as a rule that yields
// null (reason DEFAULT, json.go), so Parse keeps it apart from no targeting
// (STATIC), through Marshal and in the ETag.
func TestNullTargetingKept(t *testing.T) {
	const doc = `{"flags": {"f": {"state": "ENABLED", "defaultVariant": "on", "variants": {"on": true, "off": false}, "targeting": %s}}}`
	reasons := map[string]evaluation.Reason{}
	etags := map[string]string{}
	for _, targeting := range []string{"null", "{}"} {
		set, err := flagd.Parse("f.json", []byte(fmt.Sprintf(doc, targeting)))
		if err != nil {
			t.Fatal(err)
		}
		again, _ := mustRoundTrip(t, set)
		snap, err := evaluation.Compile(again)
		if err != nil {
			t.Fatal(err)
		}
		res := snap.Evaluate("f", nil)
		if res.Value != true || res.Variant != "on" {
			t.Errorf("targeting %s: got %v/%q, want true/on", targeting, res.Value, res.Variant)
		}
		reasons[targeting], etags[targeting] = res.Reason, snap.ETag()
	}
	if reasons["null"] != evaluation.ReasonDefault || reasons["{}"] != evaluation.ReasonStatic {
		t.Errorf("reasons: got null %s, {} %s; want DEFAULT, STATIC", reasons["null"], reasons["{}"])
	}
	if etags["null"] == etags["{}"] {
		t.Errorf("null and {} targeting share an ETag, but answer different reasons")
	}
}
