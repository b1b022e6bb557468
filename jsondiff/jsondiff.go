// Package jsondiff describes how one JSON document differs from another as a
// list of operations on JSON Pointer paths (the shape of RFC 6902 JSON Patch:
// add, remove, replace). The audit trail uses it to show what a change did.
package jsondiff

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

// Op is one difference.
type Op struct {
	Op    string `json:"op"` // add, remove or replace
	Path  string `json:"path"`
	From  any    `json:"from,omitempty"` // the old value (remove, replace)
	Value any    `json:"value,omitempty"`
}

// Diff returns the operations that turn before into after. nil or empty
// documents count as absent: a creation is one add at "", a deletion one
// remove. Objects are compared key by key; arrays and scalars are replaced
// whole when they differ.
func Diff(before, after []byte) ([]Op, error) {
	var a, b any
	hasA, hasB := len(bytes.TrimSpace(before)) > 0, len(bytes.TrimSpace(after)) > 0
	if hasA {
		if err := json.Unmarshal(before, &a); err != nil {
			return nil, err
		}
	}
	if hasB {
		if err := json.Unmarshal(after, &b); err != nil {
			return nil, err
		}
	}
	switch {
	case !hasA && !hasB:
		return nil, nil
	case !hasA:
		return []Op{{Op: "add", Path: "", Value: b}}, nil
	case !hasB:
		return []Op{{Op: "remove", Path: "", From: a}}, nil
	}
	var ops []Op
	diff("", a, b, &ops)
	return ops, nil
}

func diff(path string, a, b any, ops *[]Op) {
	am, aObj := a.(map[string]any)
	bm, bObj := b.(map[string]any)
	if !aObj || !bObj {
		if !equal(a, b) {
			*ops = append(*ops, Op{Op: "replace", Path: path, From: a, Value: b})
		}
		return
	}
	keys := make([]string, 0, len(am)+len(bm))
	for k := range am {
		keys = append(keys, k)
	}
	for k := range bm {
		if _, ok := am[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := path + "/" + escape(k)
		av, inA := am[k]
		bv, inB := bm[k]
		switch {
		case !inA:
			*ops = append(*ops, Op{Op: "add", Path: p, Value: bv})
		case !inB:
			*ops = append(*ops, Op{Op: "remove", Path: p, From: av})
		default:
			diff(p, av, bv, ops)
		}
	}
}

func equal(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// escape encodes a key as a JSON Pointer reference token (RFC 6901).
func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// String renders an op on one line, e.g. `replace /defaultVariant: "off" → "on"`.
func (o Op) String() string {
	path := o.Path
	if path == "" {
		path = "/"
	}
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		s := string(b)
		if len(s) > 120 {
			s = s[:117] + "..."
		}
		return s
	}
	switch o.Op {
	case "add":
		return "+ " + path + ": " + enc(o.Value)
	case "remove":
		return "- " + path + ": " + enc(o.From)
	}
	return "~ " + path + ": " + enc(o.From) + " → " + enc(o.Value)
}
