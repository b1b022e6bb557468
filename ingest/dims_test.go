package ingest

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/valueloop/valueloop/metric"
)

var testDims = []metric.Dimension{
	{Name: "country", Values: []string{"US", "GB", "DE"}},
	{Name: "platform", Values: []string{"ios", "android", "3"}},
}

// naiveDims is naive with the cells per dimension value: for each value,
// naive over the events with only the exposures of the users whose value
// it is, per flag. A user's value is that of their earliest exposure to the
// flag (the smallest values of those at the same time), computed here from
// the JSON with encoding/json rather than by the engine's code.
func naiveDims(metrics []metric.Metric, dims []metric.Dimension, events []Event, splits map[string][]int64) []metric.Aggregate {
	out := naive(metrics, events, splits)
	if len(dims) == 0 {
		return out
	}
	type first struct {
		t  int64
		dv []byte
	}
	firsts := map[[2]string]first{} // (flag, user)
	for _, ev := range events {
		if ev.Type != Exposure {
			continue
		}
		dv := refDims(dims, ev.Attributes)
		k := [2]string{ev.Flag, ev.TargetingKey}
		f, ok := firsts[k]
		if !ok || ev.Time < f.t || (ev.Time == f.t && bytes.Compare(dv[:], f.dv) < 0) {
			firsts[k] = first{ev.Time, dv[:]}
		}
	}
	flags := map[string]bool{}
	for k := range firsts {
		flags[k[0]] = true
	}
	for flag := range flags {
		for d, dim := range dims {
			for v := range dim.Count() {
				var part []Event
				for _, ev := range events {
					if ev.Type == Tracking || (ev.Flag == flag && int(firsts[[2]string{flag, ev.TargetingKey}].dv[d]) == v) {
						part = append(part, ev)
					}
				}
				for _, a := range naive(metrics, part, splits) {
					// Users first exposed outside the split are in no slice, and the
					// cells by day of exposure are not split by dimension.
					if a.Flag == flag && a.Variant != "" && a.Dimension == "" {
						a.Dimension, a.Value = dim.Name, dim.Label(v)
						out = append(out, a)
					}
				}
			}
		}
	}
	return out
}

// refDims classifies attributes as dimsOf does, with encoding/json.
func refDims(dims []metric.Dimension, attrs []byte) dimVals {
	var dv dimVals
	var m map[string]json.RawMessage
	if json.Unmarshal(attrs, &m) != nil {
		return dv
	}
	for i, d := range dims {
		raw, ok := m[d.Name]
		switch {
		case !ok || string(raw) == "null":
			dv[i] = 0
		case raw[0] == '{' || raw[0] == '[':
			dv[i] = 1
		case raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				panic(err)
			}
			dv[i] = uint8(d.Index([]byte(s)))
		default:
			dv[i] = uint8(d.Index(raw))
		}
	}
	return dv
}

// TestDimensionSlicesAddUp checks the cells of every dimension against the
// cells of all users: per variant and metric, the slices' sums add up to the
// whole, so no user is lost or counted twice.
func TestDimensionSlicesAddUp(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	events := randomEvents(r, 200) // more, and every user has seen several variants
	all, _, err := RecomputeDimensions(testMetrics(), testDims, nil, ScanEvents(events))
	if err != nil {
		t.Fatal(err)
	}
	whole := map[cellKey]metric.Sums{}
	parts := map[cellKey]metric.Sums{} // keyed by dimension name, no value
	var values []string
	for _, a := range all {
		k := cellKey{a.Flag, a.Variant, a.Metric, a.Period, a.Dimension, ""}
		if a.Dimension == metric.OutsideDimension {
			continue // users served outside the split: in no slice
		}
		if a.Dimension == "" {
			whole[k] = a.Sums
			continue
		}
		s := parts[k]
		s.Add(a.Sums)
		parts[k] = s
		if !slices.Contains(values, a.Value) {
			values = append(values, a.Value)
		}
	}
	for _, v := range []string{"US", "GB", metric.OtherValue, metric.NoneValue, "ios", "android", "3"} {
		if !slices.Contains(values, v) {
			t.Errorf("no cell of value %q; got values %q", v, values)
		}
	}
	if slices.Contains(values, "DE") {
		t.Errorf("a cell of value DE, which no exposure had")
	}
	for k, w := range whole {
		if k.variant == "" {
			continue // excluded users are counted once, without slices
		}
		for _, d := range testDims {
			k.dim = d.Name
			if g := parts[k]; g != w {
				t.Errorf("%v: slices add up to %+v, want %+v", k, g.Summary(), w.Summary())
			}
		}
	}
}

// TestDimensionStateRejectsBadIndex: a stored state whose dimension index
// is beyond the dimension's values is refused, not trusted.
func TestDimensionStateRejectsBadIndex(t *testing.T) {
	e := newEngine(testMetrics(), testDims...)
	u := e.touch("u1")
	e.expose(u, "f1", "on", 10, []byte(`{"country":"GB","platform":"android"}`), false)
	e.finish()
	state := e.encodeUser(nil, u)
	if err := newEngine(testMetrics(), testDims...).load("u1", state); err != nil {
		t.Fatalf("load of a good state: %v", err)
	}
	i := bytes.Index(state, []byte("on"))
	if i < 0 {
		t.Fatal("variant not found in the state")
	}
	at := i + 2 + 2 // after the variant: t0 and period (one byte each), then the country
	if state[at] != 3 {
		t.Fatalf("byte %d of the state is %d, want GB's index 3", at, state[at])
	}
	other := slices.Clone(state)
	other[at] = 4 // DE
	e2 := newEngine(testMetrics(), testDims...)
	if err := e2.load("u1", other); err != nil || e2.users["u1"].units[0].dv[0] != 4 {
		t.Fatalf("load of a state with country DE: %v", err)
	}
	bad := slices.Clone(state)
	bad[at] = 200
	if err := newEngine(testMetrics(), testDims...).load("u1", bad); err == nil {
		t.Error("load of a state with country index 200: no error")
	}
}

// FuzzDimsOf: the engine's classification of exposure attributes, without
// allocating, agrees with encoding/json on every JSON object, and never
// panics on anything else (a corrupt log).
func FuzzDimsOf(f *testing.F) {
	for _, s := range []string{`{"country":"US","platform":"ios"}`, `{"country":null,"platform":3}`, `{"country":"G\u0042"}`,
		`{"platform":true,"country":{"a":[1]}}`, `{}`, `{"country":"US"`, `[1]`, `{"country":"US","country":"DE"}`} {
		f.Add([]byte(s))
	}
	dims := append(slices.Clone(testDims), metric.Dimension{Name: "beta", Values: []string{"true", "false"}})
	e := newEngine(nil, dims...)
	f.Fuzz(func(t *testing.T, attrs []byte) {
		got := e.dimsOf(attrs)
		for d, v := range got[:len(dims)] {
			if int(v) >= dims[d].Count() {
				t.Fatalf("dimsOf(%s): index %d of %s beyond its values", attrs, v, dims[d].Name)
			}
		}
		var m map[string]json.RawMessage
		if !utf8.Valid(attrs) || json.Unmarshal(attrs, &m) != nil || m == nil {
			return
		}
		if want := refDims(dims, attrs); got != want {
			t.Fatalf("dimsOf(%s) = %v, encoding/json says %v", attrs, got[:len(dims)], want[:len(dims)])
		}
	})
}
