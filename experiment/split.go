package experiment

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/valueloop/valueloop"
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

// splitAlone reports whether every user the flag serves one of its
// fractional split's variants got it from the split, so that the split's
// weights are the expected shares of those users. Rules around the split are
// fine as long as what they return otherwise is no variant of the split
// ({"if": [staff, "staff", {"fractional": …}]}); a rule that may return one
// ({"if": [staff, "one-page", {"fractional": [["classic", 95], ["one-page",
// 5]]}]}), a computed result or a second split assigns some of those users by
// their attributes. Those users are recorded outside the split, so the
// check still applies (splitsDisagree), but one recorded as randomised
// skews it: a mismatch then names that cause (ruledMismatch). No split at
// all is false too.
func splitAlone(f *valueloop.Flag) bool {
	split, ok := FractionalSplit(f.Targeting)
	if !ok {
		return false
	}
	var rule any
	if err := json.Unmarshal(f.Targeting, &rule); err != nil {
		return false
	}
	served := func(v string) bool { return split[v] > 0 }
	return outsideSplit(rule, split, served, f.DefaultVariant)
}

// outsideSplit reports whether the JsonLogic result node can only be the
// split itself or variants it does not serve. Only "if" and the split are
// followed; any other operator computes its result and is not trusted.
func outsideSplit(node any, split map[string]float64, served func(string) bool, def *string) bool {
	switch n := node.(type) {
	case nil: // flagd: no result means the default variant
		return def == nil || !served(*def)
	case string:
		return !served(n)
	case map[string]any:
		if len(n) != 1 {
			return false
		}
		if args, ok := n["fractional"].([]any); ok {
			w, ok := staticSplit(args)
			return ok && maps.Equal(w, split)
		}
		args, ok := n["if"].([]any)
		if !ok {
			return false
		}
		for i, a := range args {
			if (i%2 == 1 || i == len(args)-1) && !outsideSplit(a, split, served, def) {
				return false
			}
		}
		return len(args)%2 == 1 || outsideSplit(nil, split, served, def)
	}
	return false
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

// splitsDisagree returns why the weights of a flag's first fractional split
// (FractionalSplit) are not the expected shares, over the variants it
// serves, of the users the flag randomised; "" when they are. A user a rule
// or the default variant served is recorded outside the split
// (ingest.Event.OutsideSplit) and is not among them, so the rules around the
// split do not matter: what does is every fractional split a user may
// reach. They must be static and give the split's variants the same shares
// (a split serving none of them adds no user to them); where they differ,
// which one a user reaches depends on their attributes, and so does the
// ratio. A shared evaluator ($ref) that may be the result may hold a split
// of its own and is not read here; one in a condition only picks a branch
// (the demo's staff). No split at all has no shares to test.
func splitsDisagree(targeting json.RawMessage) string {
	first, ok := FractionalSplit(targeting)
	if !ok {
		return "the flag has no fractional split (a targeting rule or the default variant assigns its users), so there are no expected shares to test"
	}
	var rule any
	if err := json.Unmarshal(targeting, &rule); err != nil {
		return "the flag's targeting is not valid JSON, so its split is not known"
	}
	served := map[string]float64{}
	for k, w := range first {
		if w > 0 {
			served[k] = w
		}
	}
	why := ""
	resultSplits(rule, func(op string, args any) bool {
		if op == "$ref" {
			why = "the targeting uses a shared evaluator ($ref), whose splits are not read here, so the split's weights may not be the users' expected shares"
			return false
		}
		list, _ := args.([]any)
		w, ok := staticSplit(list)
		if !ok {
			why = "a fractional split of the targeting computes its variants or weights, so the users' expected shares are not known"
			return false
		}
		over := make(map[string]float64, len(served))
		for k := range served {
			over[k] = w[k]
		}
		if total(over) > 0 && !sameShares(over, served) {
			why = "the targeting has fractional splits that weigh the variants differently (" + encodeWeights(served) + " and " + encodeWeights(w) + "), and which one a user reaches depends on their attributes, so their expected shares are not known"
			return false
		}
		return true
	})
	return why
}

// resultSplits calls visit with every "fractional" and "$ref" operator
// that may give a JsonLogic rule's result, until visit returns false: the
// branches of an "if" are followed and its conditions skipped (they pick a
// branch, they serve nobody); under any other operator, every one counts.
func resultSplits(node any, visit func(op string, args any) bool) bool {
	if n, ok := node.(map[string]any); ok && len(n) == 1 {
		if args, ok := n["if"].([]any); ok {
			for i, a := range args {
				if (i%2 == 1 || i == len(args)-1) && !resultSplits(a, visit) {
					return false
				}
			}
			return true
		}
	}
	return walkRule(node, visit)
}

// walkRule calls visit with every "fractional" and "$ref" operator of a
// JsonLogic rule and its arguments, in document order, until visit returns
// false.
func walkRule(node any, visit func(op string, args any) bool) bool {
	switch n := node.(type) {
	case map[string]any:
		for _, k := range sortedKeys(n) {
			if (k == "fractional" || k == "$ref") && !visit(k, n[k]) {
				return false
			}
			if !walkRule(n[k], visit) {
				return false
			}
		}
	case []any:
		for _, c := range n {
			if !walkRule(c, visit) {
				return false
			}
		}
	}
	return true
}
