package httpapi

import (
	"encoding/json"
	"math"
	"reflect"
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
		{"both, any types", dims, map[string]any{"country": 3.0, "app\"version": map[string]any{"major": 1.0}}, map[string]any{"country": 3.0, "app\"version": map[string]any{"major": 1.0}}},
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
