package httpapi

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/metric"
)

func TestExposureAttributes(t *testing.T) {
	dims := []metric.Dimension{{Name: "country", Values: []string{"US"}}, {Name: "app\"version", Values: []string{"1.2"}}}
	for _, tc := range []struct {
		name string
		dims []metric.Dimension
		ctx  map[string]any
		want map[string]any // nil: no attributes
	}{
		{"no dimensions", nil, map[string]any{"targetingKey": "u", "country": "US"}, nil},
		{"none in the context", dims, map[string]any{"targetingKey": "u", "email": "a@b"}, nil},
		{"one", dims, map[string]any{"targetingKey": "u", "country": "US", "email": "a@b"}, map[string]any{"country": "US"}},
		{"both, scalars", dims, map[string]any{"country": 3.0, "app\"version": true}, map[string]any{"country": 3.0, "app\"version": true}},
		// An object or an array counts as (other) whatever it holds: it is
		// kept as {} and not marshalled (a value JSON cannot hold is still
		// (other), not (none)); so is a string longer than any value can be.
		{"nested is other", dims, map[string]any{"country": map[string]any{"major": 1.0, "huge": make([]any, 1000)}, "app\"version": []any{"1.2"}},
			map[string]any{"country": map[string]any{}, "app\"version": map[string]any{}}},
		{"unmarshalable nested", dims, map[string]any{"country": map[string]any{"c": make(chan int)}}, map[string]any{"country": map[string]any{}}},
		{"long string is other", dims, map[string]any{"country": strings.Repeat("U", metric.MaxDimensionBytes+1)}, map[string]any{"country": map[string]any{}}},
		{"longest string kept", dims, map[string]any{"country": strings.Repeat("U", metric.MaxDimensionBytes)}, map[string]any{"country": strings.Repeat("U", metric.MaxDimensionBytes)}},
		{"integers", dims, map[string]any{"country": 7, "app\"version": int64(-2)}, map[string]any{"country": 7.0, "app\"version": -2.0}},
		{"infinity left out", dims, map[string]any{"country": math.Inf(1)}, nil},
		{"null", dims, map[string]any{"country": nil}, map[string]any{"country": nil}},
		{"NaN left out", dims, map[string]any{"country": math.NaN(), "app\"version": "1.2"}, map[string]any{"app\"version": "1.2"}},
		{"only NaN", dims, map[string]any{"country": math.NaN()}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := exposureAttributes(tc.dims, tc.ctx)
			if tc.want == nil {
				if got != nil {
					t.Errorf("got %s, want none", got)
				}
				return
			}
			var m map[string]any
			if err := json.Unmarshal(got, &m); err != nil || !reflect.DeepEqual(m, tc.want) {
				t.Errorf("got %s (%v), want %v", got, err, tc.want)
			}
		})
	}
}
