package rollout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/valueloop/valueloop"
)

// ApplySplit returns a copy of f whose targeting serves variant to weight
// out of TotalWeight of users and baseline to the rest, through a
// `fractional` split:
//
//   - a flag without targeting gets {"fractional": [[variant, w], [baseline, TotalWeight−w]]};
//   - a flag whose targeting holds exactly one `fractional` over variant and
//     baseline has that split rewritten in place, keeping the order of its
//     distributions and its bucketing value, so the rest of the rule (staff
//     overrides, country conditions) keeps working. Rewriting a 95/5 split
//     as 9500/500 serves every key the variant it had.
//
// Any other targeting is an EINVALID error that says why: a rollout drives
// exactly one split and no other variant.
func ApplySplit(f *valueloop.Flag, variant, baseline string, weight int) (*valueloop.Flag, error) {
	if weight < 0 || weight > TotalWeight {
		return nil, valueloop.Errorf(valueloop.EINVALID, "weight %d outside 0..%d", weight, TotalWeight)
	}
	out := *f
	dists := func(order []string) []any {
		ds := make([]any, len(order))
		for i, v := range order {
			w := weight
			if v == baseline {
				w = TotalWeight - weight
			}
			ds[i] = []any{v, json.Number(strconv.Itoa(w))}
		}
		return ds
	}
	if isNull(f.Targeting) {
		rule := map[string]any{"fractional": dists([]string{variant, baseline})}
		buf, err := encode(rule)
		if err != nil {
			return nil, err
		}
		out.Targeting = buf
		return &out, nil
	}
	rule, err := decode(f.Targeting)
	if err != nil {
		return nil, valueloop.Errorf(valueloop.EINVALID, "targeting of flag %q is not JSON: %v", f.Key, err)
	}
	var found []map[string]any
	walk(rule, func(m map[string]any) { found = append(found, m) })
	switch len(found) {
	case 0:
		return nil, valueloop.Errorf(valueloop.EINVALID, "the targeting of flag %q has no `fractional` split for the rollout to drive: remove the targeting, or put {\"fractional\": [[%q, 0], [%q, 100]]} where the rollout should decide", f.Key, variant, baseline)
	case 1:
	default:
		return nil, valueloop.Errorf(valueloop.EINVALID, "the targeting of flag %q has %d `fractional` splits: a rollout drives exactly one", f.Key, len(found))
	}
	frac := found[0]
	_, bucketBy, order, err := splitArgs(frac["fractional"], variant, baseline)
	if err != nil {
		return nil, valueloop.Errorf(valueloop.EINVALID, "the `fractional` split of flag %q: %v", f.Key, err)
	}
	newArgs := dists(order)
	if bucketBy != nil {
		newArgs = append([]any{bucketBy}, newArgs...)
	}
	frac["fractional"] = newArgs
	buf, err := encode(rule)
	if err != nil {
		return nil, err
	}
	out.Targeting = buf
	return &out, nil
}

// SplitOf returns the weight (out of TotalWeight) that f's split gives
// variant, or an error when f has no split a rollout could drive.
func SplitOf(f *valueloop.Flag, variant, baseline string) (int, error) {
	if isNull(f.Targeting) {
		return 0, valueloop.Errorf(valueloop.EINVALID, "flag %q has no targeting, so no split", f.Key)
	}
	rule, err := decode(f.Targeting)
	if err != nil {
		return 0, valueloop.Errorf(valueloop.EINVALID, "targeting of flag %q is not JSON: %v", f.Key, err)
	}
	var found []map[string]any
	walk(rule, func(m map[string]any) { found = append(found, m) })
	if len(found) != 1 {
		return 0, valueloop.Errorf(valueloop.EINVALID, "the targeting of flag %q has %d `fractional` splits, not one", f.Key, len(found))
	}
	args, _, _, err := splitArgs(found[0]["fractional"], variant, baseline)
	if err != nil {
		return 0, valueloop.Errorf(valueloop.EINVALID, "the `fractional` split of flag %q: %v", f.Key, err)
	}
	total, mine := int64(0), int64(0)
	for _, d := range args {
		total += d.weight
		if d.variant == variant {
			mine += d.weight
		}
	}
	if total == 0 {
		return 0, valueloop.Errorf(valueloop.EINVALID, "the `fractional` split of flag %q has no weight", f.Key)
	}
	// Rounded to the rollout's resolution: a 95/5 split is 500.
	return int((mine*TotalWeight + total/2) / total), nil
}

type dist struct {
	variant string
	weight  int64
}

// splitArgs reads the arguments of a fractional operation: its optional
// bucketing value (returned as is), its distributions, and the order in
// which variant and baseline appear (those missing appended, variant first).
func splitArgs(raw any, variant, baseline string) (ds []dist, bucketBy any, order []string, err error) {
	list, ok := raw.([]any)
	if !ok || len(list) == 0 {
		return nil, nil, nil, fmt.Errorf("its argument is not a list of [variant, weight] distributions")
	}
	if _, isDist := list[0].([]any); !isDist {
		bucketBy, list = list[0], list[1:]
	}
	seen := map[string]bool{}
	for i, el := range list {
		d, ok := el.([]any)
		if !ok || len(d) == 0 || len(d) > 2 {
			return nil, nil, nil, fmt.Errorf("distribution %d is not [variant, weight]", i)
		}
		name, ok := d[0].(string)
		if !ok {
			return nil, nil, nil, fmt.Errorf("distribution %d does not name a variant with a string", i)
		}
		if name != variant && name != baseline {
			return nil, nil, nil, fmt.Errorf("it also serves %q; a rollout drives a split between %q and %q only", name, variant, baseline)
		}
		if seen[name] {
			return nil, nil, nil, fmt.Errorf("it names %q twice", name)
		}
		seen[name] = true
		w := int64(1)
		if len(d) == 2 {
			n, ok := d[1].(json.Number)
			if !ok {
				return nil, nil, nil, fmt.Errorf("the weight of %q is not a number", name)
			}
			w, err = n.Int64()
			if err != nil || w < 0 {
				return nil, nil, nil, fmt.Errorf("the weight of %q is not a whole number ≥ 0", name)
			}
		}
		ds = append(ds, dist{name, w})
		order = append(order, name)
	}
	for _, v := range []string{variant, baseline} {
		if !seen[v] {
			order = append(order, v)
		}
	}
	return ds, bucketBy, order, nil
}

// walk calls fn for every JsonLogic operation {"fractional": ...} in rule.
func walk(rule any, fn func(map[string]any)) {
	switch v := rule.(type) {
	case map[string]any:
		if _, ok := v["fractional"]; ok && len(v) == 1 {
			fn(v)
			return
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys) // a stable order for error messages
		for _, k := range keys {
			walk(v[k], fn)
		}
	case []any:
		for _, x := range v {
			walk(x, fn)
		}
	}
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// decode reads JSON keeping numbers exact.
func decode(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// encode writes compact JSON without HTML escaping, as people wrote it.
func encode(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("rollout: encode targeting: %w", err)
	}
	return json.RawMessage(bytes.TrimSpace(buf.Bytes())), nil
}

func sortStrings(s []string) { sort.Strings(s) }

// OutsideSplit says which users f's targeting serves variant or baseline
// without its split choosing them, in words, or "" when the split decides
// for everyone (the targeting is the split alone, or every branch ends in
// it). An exposure the server records, or an SDK sends with split: false
// or the reason DEFAULT, STATIC or DISABLED, says that the split did not
// choose: such users are left out of the guardrails' figures
// (ingest.Event.OutsideSplit). An SDK's exposure without either, or with
// TARGETING_MATCH alone, cannot say so, and its user counts in them, so
// the comparison may not be the split's alone. It is a brief note on the
// rule, not an alarm: the demo's rule serves staff this way by design. It reads the `if` branches of
// the rule (`if`, `?:`): a branch that is a variant's name serves it by rule, a missing
// else (or a null) serves the defaultVariant, and a branch computed some
// other way may serve either.
func OutsideSplit(f *valueloop.Flag, variant, baseline string) string {
	if f == nil || isNull(f.Targeting) {
		return ""
	}
	rule, err := decode(f.Targeting)
	if err != nil {
		return ""
	}
	var o outside
	o.results(rule)
	var parts []string
	for _, v := range []string{variant, baseline} {
		if o.literal[v] {
			parts = append(parts, fmt.Sprintf("%q to the users a rule picks", v))
		}
	}
	if d := f.DefaultVariant; o.fallsThrough && d != nil && (*d == variant || *d == baseline) {
		parts = append(parts, fmt.Sprintf("%q (the defaultVariant) to the users no branch of the rule reaches", *d))
	}
	if o.computed {
		parts = append(parts, "what a computed branch of the rule names")
	}
	if len(parts) == 0 {
		return ""
	}
	// An SDK's reason marks the default variant (DEFAULT) but not a rule's:
	// TARGETING_MATCH counts as in the split (flagd's providers answer it
	// for a split too); only an exposure's split says so (the Go provider
	// sends it). The rest is docs/rollouts.md's, Caveats.
	sdk := "split: false or the reason DEFAULT"
	if o.computed || o.literal[variant] || o.literal[baseline] {
		sdk = "split: false, as TARGETING_MATCH alone cannot say so"
	}
	return "the flag's targeting serves " + strings.Join(parts, ", ") + ", outside the split: they count as users reached and are left out of the guardrails when their exposures say so (the server's do; an SDK's need " + sdk + "); if they cannot, put the split on a rule of its own"
}

// outside is what the branches of a rule lead to, besides the split.
type outside struct {
	literal      map[string]bool // variant names a branch serves as is
	fallsThrough bool            // some users get no branch: the defaultVariant
	computed     bool            // a branch computes its result
}

func (o *outside) results(node any) {
	switch v := node.(type) {
	case nil:
		o.fallsThrough = true
	case string:
		if o.literal == nil {
			o.literal = map[string]bool{}
		}
		o.literal[v] = true
	case map[string]any:
		if _, ok := v["fractional"]; ok && len(v) == 1 {
			return // the split
		}
		args, ok := v["if"].([]any)
		if !ok {
			args, ok = v["?:"].([]any) // JsonLogic's other name of if
		}
		if !ok || len(v) != 1 || len(args) < 2 {
			o.computed = true
			return
		}
		// [cond, then, cond, then, ..., else]: the thens, and the else
		// when there is one (an odd length); without it, null.
		for i := 1; i < len(args); i += 2 {
			o.results(args[i])
		}
		if len(args)%2 == 1 {
			o.results(args[len(args)-1])
		} else {
			o.fallsThrough = true
		}
	default:
		o.computed = true
	}
}
