package experiment

import (
	"encoding/json"
	"slices"
)

// FractionalSplit returns the variant weights of the first static
// fractional split in a flag's JsonLogic targeting ({"fractional": [
// ["control", 50], ["treatment", 50]]}, anywhere in the rule, in document
// order), and false when there is none. A split whose variant names are
// computed is not static and is skipped; a bucket without a weight weighs 1,
// as flagd counts it. The weights are in the split's own units.
func FractionalSplit(targeting json.RawMessage) (map[string]float64, bool) {
	if len(targeting) == 0 {
		return nil, false
	}
	var rule any
	if err := json.Unmarshal(targeting, &rule); err != nil {
		return nil, false
	}
	return findSplit(rule)
}

func findSplit(node any) (map[string]float64, bool) {
	switch n := node.(type) {
	case map[string]any:
		if args, ok := n["fractional"].([]any); ok {
			if w, ok := staticSplit(args); ok {
				return w, true
			}
		}
		for _, k := range sortedKeys(n) { // one operator per object in JsonLogic
			if w, ok := findSplit(n[k]); ok {
				return w, true
			}
		}
	case []any:
		for _, c := range n {
			if w, ok := findSplit(c); ok {
				return w, true
			}
		}
	}
	return nil, false
}

// StaticSplit returns the variant weights of the arguments of one
// fractional operator (an optional bucketing expression first, then
// [variant, weight] buckets), and false when the split is not static.
func StaticSplit(args []any) (map[string]float64, bool) { return staticSplit(args) }

func staticSplit(args []any) (map[string]float64, bool) {
	w := map[string]float64{}
	for i, a := range args {
		bucket, ok := a.([]any)
		if !ok {
			if i == 0 {
				continue // the bucketing expression
			}
			return nil, false
		}
		if len(bucket) == 0 || len(bucket) > 2 {
			return nil, false
		}
		name, ok := bucket[0].(string)
		if !ok {
			return nil, false
		}
		weight := 1.0
		if len(bucket) == 2 {
			if weight, ok = bucket[1].(float64); !ok || weight < 0 {
				return nil, false
			}
		}
		w[name] += weight
	}
	return w, len(w) > 0
}

// variantNames returns the names of a flag's variants, sorted.
func variantNames(variants map[string]any) []string {
	names := make([]string, 0, len(variants))
	for k := range variants {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
