package evaluation

import (
	"fmt"
	"math"
	"testing"
)

// The bucket formula, written out for the tests: (hash × total) >> 32.
func bucketOf(hash uint32, total uint64) uint64 { return uint64(hash) * total >> 32 }

func TestFractionalReferenceBuckets(t *testing.T) {
	// Keys whose murmur3 hash is 0, 1, 2^31-1, 2^31 and 2^32-1 (see
	// TestMurmur3), bucketed over weights 25/25/50 (total 100):
	// buckets 0, 0, 49, 50 and 99.
	rule := `{"fractional":[{"var":"k"},["a",25],["b",25],["c",50]]}`
	cases := []struct {
		key, want string
		hash      uint32
	}{
		{"ejOoVL", "a", 0},
		{"bY9fO-", "a", 1},
		{"SI7p-", "b", 2147483647},
		{"6LvT0", "c", 2147483648},
		{"ceQdGm", "c", 4294967295},
	}
	for _, tc := range cases {
		if b := bucketOf(tc.hash, 100); (b < 25) != (tc.want == "a") || (b >= 50) != (tc.want == "c") {
			t.Fatalf("test table is wrong for %s: bucket %d", tc.key, b)
		}
		v := evalRule(t, rule, fmt.Sprintf(`{"k":%q}`, tc.key))
		if got := show(v); got != `"`+tc.want+`"` {
			t.Errorf("key %s (hash %d): got %s, want %q", tc.key, tc.hash, got, tc.want)
		}
		if !v.split {
			t.Errorf("key %s: the value is not marked as a split", tc.key)
		}
	}
	// Two equal weights split the hash range at 2^31.
	for key, want := range map[string]string{"SI7p-": "x", "6LvT0": "y"} {
		if got := show(evalRule(t, `{"fractional":[{"var":"k"},["x",1],["y",1]]}`, fmt.Sprintf(`{"k":%q}`, key))); got != `"`+want+`"` {
			t.Errorf("key %s over 1/1: got %s, want %q", key, got, want)
		}
	}
}

func TestFractionalDefaultBucketingValue(t *testing.T) {
	// Without a bucketing value, flagd hashes flagKey+targetingKey.
	rule := `{"fractional":[["a",10],["b",20],["c",70]]}`
	for i := range 200 {
		tk := fmt.Sprintf("user-%d", i)
		b := bucketOf(murmur3String("flag"+tk), 100)
		want := "c"
		switch {
		case b < 10:
			want = "a"
		case b < 30:
			want = "b"
		}
		if got := show(evalRule(t, rule, fmt.Sprintf(`{"targetingKey":%q}`, tk))); got != `"`+want+`"` {
			t.Fatalf("targetingKey %s (bucket %d): got %s, want %q", tk, b, got, want)
		}
	}
}

func TestFractionalDistribution(t *testing.T) {
	c := &compiler{flagKey: "rollout", report: true}
	var raw any = map[string]any{"fractional": []any{[]any{"a", 20.0}, []any{"b", 30.0}, []any{"c", 50.0}}}
	fn := c.compile(raw, "", false).fn
	counts := map[string]int{}
	const n = 20000
	for i := range n {
		v := fn(env{ctx: map[string]any{"targetingKey": fmt.Sprintf("user-%d", i)}})
		counts[v.s]++
	}
	for name, share := range map[string]float64{"a": 0.2, "b": 0.3, "c": 0.5} {
		if got := float64(counts[name]) / n; math.Abs(got-share) > 0.015 {
			t.Errorf("variant %s: share %.3f, want %.2f ± 0.015 (counts %v)", name, got, share, counts)
		}
	}
}

func TestFractionalEdges(t *testing.T) {
	runOpCases(t, []opCase{
		{`{"fractional":[["a",1]]}`, `{}`, `null`},                                    // no targetingKey
		{`{"fractional":[["a",1]]}`, `{"targetingKey":""}`, `null`},                   // empty targetingKey
		{`{"fractional":[["a",1]]}`, `{"targetingKey":5}`, `null`},                    // not a string
		{`{"fractional":[["a"]]}`, `{"targetingKey":"u"}`, `"a"`},                     // weight defaults to 1
		{`{"fractional":[["a",null]]}`, `{"targetingKey":"u"}`, `"a"`},                // null weight is 1
		{`{"fractional":[["a",1.5]]}`, `{"targetingKey":"u"}`, `null`},                // weights are whole
		{`{"fractional":[["a","1"]]}`, `{"targetingKey":"u"}`, `null`},                // and numbers
		{`{"fractional":[["a",-5],["b",1]]}`, `{"targetingKey":"u"}`, `"b"`},          // clamped to 0
		{`{"fractional":[["a",0],["b",0]]}`, `{"targetingKey":"u"}`, `null`},          // nothing to choose
		{`{"fractional":[["a",2147483647],["b",1]]}`, `{"targetingKey":"u"}`, `null`}, // sum too large
		{`{"fractional":[["a",2147483648]]}`, `{"targetingKey":"u"}`, `null`},         // weight too large
		{`{"fractional":[[true,1]]}`, `{"targetingKey":"u"}`, `true`},
		{`{"fractional":[[null,1]]}`, `{"targetingKey":"u"}`, `null`},
		{`{"fractional":[[{"var":"o"},1]]}`, `{"targetingKey":"u","o":{"x":1}}`, `null`},
		{`{"fractional":[[]]}`, `{"targetingKey":"u"}`, `null`},
		{`{"fractional":[null,["a",1]]}`, `{"targetingKey":"u"}`, `"a"`}, // null bucketing value: targetingKey
		{`{"fractional":[{"var":"missing"},["a",1]]}`, `{"targetingKey":"u"}`, `"a"`},
		{`{"fractional":[{"var":"missing"},["a",1]]}`, `{}`, `null`},
		{`{"fractional":[5,["a",1]]}`, `{"targetingKey":"u"}`, `null`}, // a number is kept as a (bad) distribution
		{`{"fractional":["seed"]}`, `{}`, `null`},                      // no distribution
		{`{"fractional":[]}`, `{}`, `null`},
		{`{"fractional":"x"}`, `{}`, `null`},
		{`{"fractional":[["a",{"+":[true]}]]}`, `{"targetingKey":"u"}`, `ERROR`}, // failures inside propagate
		{`{"fractional":[["a",{"var":"w"}],["b",{"var":"v"}]]}`, `{"targetingKey":"u","w":0,"v":3}`, `"b"`},
		{`{"fractional":[{"var":"k"},[{"cat":["x",{"var":"s"}]},1]]}`, `{"k":"z","s":"y"}`, `"xy"`},
		{`{"fractional":{"var":"d"}}`, `{"targetingKey":"u","d":[["a",1]]}`, `"a"`},
		{`{"fractional":[{"var":"d1"},["b",1]]}`, `{"targetingKey":"u","d1":["a",0]}`, `"b"`}, // an array first argument is a distribution
		{`{"if":[{"fractional":[[false,0],[true,1]]},"y","n"]}`, `{"targetingKey":"u"}`, `"y"`},
	})
}
