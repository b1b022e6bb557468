package value

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/jsondecode"
)

// File is the objectives and features a team keeps in its repository
// (valueloop.yaml, say) and applies like flags: YAML or JSON, the same
// fields as the API.
type File struct {
	Objectives []Objective `json:"objectives"`
	Features   []Feature   `json:"features"`
}

// ParseFile reads a file of objectives and features, YAML or JSON (JSON
// when it starts with '{'), refusing unknown fields, and validates it as a
// set against c. The error names the field: features[2].links.flags[0].flag.
func ParseFile(data []byte, c Context) (*File, error) {
	f, err := DecodeFile(data)
	if err != nil {
		return nil, err
	}
	if err := ValidateAll(c, f.Objectives, f.Features); err != nil {
		return nil, err
	}
	return f, nil
}

// MaxFileBytes bounds a file of objectives and features as one apply
// carries it, its compact JSON (what the CLI sends, whatever the file's
// layout). The server keeps what it stores within it and within
// MaxFileObjectives and MaxFileFeatures (features.Service refuses a write
// past them), so that an export always applies back. About 20,000
// features of a few hundred bytes each fit.
const MaxFileBytes = 8 << 20

// MaxFileTextBytes bounds a file's text as written: the layout of an
// export (indented JSON, YAML) and a team's comments take room beyond its
// compact JSON (an export at the bounds is a sixth larger as indented
// JSON, TestValueExportAppliesBackAtBound). It is what value apply reads
// of a file and what the apply route reads of a body.
const MaxFileTextBytes = 4 * MaxFileBytes

// The most items one file (or one apply request) may hold, and one feature
// may list in each of its links and dependencies: what is refused before
// any of it is validated against the store.
const (
	MaxFileObjectives = 1000
	MaxFileFeatures   = 20000
	MaxLinks          = 100
)

// CheckSize refuses a file with more objectives or features than one
// apply takes, naming the list, or larger than MaxFileBytes as compact
// JSON, naming the file.
func (f *File) CheckSize() error {
	if len(f.Objectives) > MaxFileObjectives {
		return valueloop.FieldErrorf("objectives", "lists %d objectives, want at most %d in one file", len(f.Objectives), MaxFileObjectives)
	}
	if len(f.Features) > MaxFileFeatures {
		return valueloop.FieldErrorf("features", "lists %d features, want at most %d in one file", len(f.Features), MaxFileFeatures)
	}
	if n := f.Bytes(); n > MaxFileBytes {
		return valueloop.FieldErrorf("file", "is %d bytes as compact JSON, want at most %d in one file", n, MaxFileBytes)
	}
	return nil
}

// Bytes is the size of f's compact JSON without the times the store
// keeps: what an export of it carries in one apply.
func (f *File) Bytes() int {
	n := len(`{"objectives":[],"features":[]}`)
	for i, o := range f.Objectives {
		o.CreatedAt, o.UpdatedAt = time.Time{}, time.Time{}
		n += size(o, i)
	}
	for i, ft := range f.Features {
		ft.CreatedAt, ft.UpdatedAt = time.Time{}, time.Time{}
		n += size(ft, i)
	}
	return n
}

// size is the length of v's JSON, with the comma before it unless first.
func size(v any, i int) int {
	js, err := json.Marshal(v)
	if err != nil {
		// The types always encode; a value that did not could not be
		// exported either.
		panic(err)
	}
	return len(js) + min(i, 1)
}

// DecodeFile reads a file as ParseFile does without validating it against
// the environments: the CLI reads the team's file, the server validates.
func DecodeFile(data []byte) (*File, error) {
	if len(data) > MaxFileTextBytes {
		return nil, valueloop.FieldErrorf("file", "is %d bytes, want at most %d", len(data), MaxFileTextBytes)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, valueloop.FieldErrorf("file", "is empty: want objectives and features")
	}
	js := trimmed
	if trimmed[0] != '{' {
		var doc any
		if err := yaml.Unmarshal(trimmed, &doc); err != nil {
			return nil, valueloop.FieldErrorf("file", "not valid YAML: %v", err)
		}
		doc, err := fromYAML(doc, "")
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, valueloop.FieldErrorf("file", "YAML cannot be read as JSON: %v", err)
		}
		js = b
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, decodeError(js, err)
	}
	if err := f.CheckSize(); err != nil {
		return nil, err
	}
	return &f, nil
}

// decodeError names the field of a JSON decoding error where it can, in
// the dotted form of the validation's errors and in JSON's terms (not Go's
// type names).
func decodeError(js []byte, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		path, msg := jsondecode.Explain(js, err)
		if len(path) == 0 {
			return valueloop.FieldErrorf("file", "%s", msg)
		}
		return valueloop.FieldErrorf(path.Dotted(), "%s", msg)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return valueloop.FieldErrorf(strings.Trim(f, `"`), "unknown field: the file holds objectives (key, title, environment, metric, target, horizon) and features (key, title, objective, hypothesis, estimate, links, dependsOn)")
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		return valueloop.FieldErrorf("file", "%v", strings.TrimPrefix(msg, "json: "))
	}
	return valueloop.FieldErrorf("file", "%s", strings.TrimPrefix(msg, "json: "))
}

// fromYAML turns decoded YAML into what JSON encodes: dates to
// "2006-01-02", maps with other keys than strings to string keys; a NaN or
// an infinity, which JSON cannot carry, is refused naming its field (path,
// as validation names it: "features[0].estimate.size").
func fromYAML(v any, path string) (any, error) {
	field := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	var err error
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if t[k], err = fromYAML(x, field(k)); err != nil {
				return nil, err
			}
		}
		return t, nil
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			key := fmt.Sprint(k)
			if m[key], err = fromYAML(x, field(key)); err != nil {
				return nil, err
			}
		}
		return m, nil
	case []any:
		for i, x := range t {
			if t[i], err = fromYAML(x, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return nil, err
			}
		}
		return t, nil
	case float64:
		// YAML reads .nan and .inf, which JSON cannot carry.
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, valueloop.FieldErrorf(cmp.Or(path, "file"), "must be a finite number, got %v", t)
		}
	case time.Time:
		if t.Equal(t.Truncate(24 * time.Hour)) {
			return t.Format(time.DateOnly), nil
		}
		return t.Format(time.RFC3339Nano), nil
	}
	return v, nil
}

// Export writes objectives and features as a file ParseFile reads back to
// the same values: YAML unless asJSON. Times kept by the store are left
// out, so an exported file stays the same until someone edits a feature.
func Export(objectives []Objective, features []Feature, asJSON bool) ([]byte, error) {
	f := File{Objectives: make([]Objective, len(objectives)), Features: make([]Feature, len(features))}
	for i, o := range objectives {
		o.CreatedAt, o.UpdatedAt = time.Time{}, time.Time{}
		f.Objectives[i] = o
	}
	for i, ft := range features {
		ft.CreatedAt, ft.UpdatedAt = time.Time{}, time.Time{}
		f.Features[i] = ft
	}
	slices.SortFunc(f.Objectives, func(a, b Objective) int { return strings.Compare(a.Key, b.Key) })
	slices.SortFunc(f.Features, func(a, b Feature) int { return strings.Compare(a.Key, b.Key) })
	js, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	if asJSON {
		return append(js, '\n'), nil
	}
	// Through a node, to keep the fields in the order of the types.
	var n yaml.Node
	if err := yaml.Unmarshal(js, &n); err != nil {
		return nil, err
	}
	block(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// block turns JSON's flow style into YAML's block style; strings that YAML
// would read as something else stay quoted.
func block(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		n.Style = 0
		var back any
		if out, err := yaml.Marshal(n.Value); err == nil && yaml.Unmarshal(out, &back) == nil {
			if s, ok := back.(string); !ok || s != n.Value {
				n.Style = yaml.DoubleQuotedStyle
			}
		}
		if _, err := time.Parse(time.DateOnly, n.Value); err == nil {
			n.Style, n.Tag = 0, "!!timestamp" // a date, unquoted: ParseFile reads it back as one
		}
	}
	for _, c := range n.Content {
		block(c)
	}
}

// Op is one write of applying a file.
type Op struct {
	Action string `json:"action"` // create, update, delete
	Kind   string `json:"kind"`   // objective, feature
	Key    string `json:"key"`
	// Fields lists the top-level fields an update changes.
	Fields []string `json:"fields,omitempty"`
}

// Plan says what applying next over current writes: objectives before the
// features that need them, deletions (only with prune) of features before
// the objectives they name. Equal definitions are not written.
func Plan(current, next *File, prune bool) []Op {
	objective := func(o Objective) string { return o.Key }
	feature := func(f Feature) string { return f.Key }
	ops := planWrites(nil, "objective", current.Objectives, next.Objectives, objective)
	ops = planWrites(ops, "feature", current.Features, next.Features, feature)
	if prune {
		ops = planDeletes(ops, "feature", current.Features, next.Features, feature)
		ops = planDeletes(ops, "objective", current.Objectives, next.Objectives, objective)
	}
	return ops
}

// planWrites appends, in key order, a create for each definition of next
// that current lacks and an update for each one whose fields differ.
func planWrites[T any](ops []Op, kind string, current, next []T, key func(T) string) []Op {
	cur := map[string]T{}
	for _, x := range current {
		cur[key(x)] = x
	}
	for _, x := range sortedBy(next, key) {
		if old, ok := cur[key(x)]; !ok {
			ops = append(ops, Op{Action: "create", Kind: kind, Key: key(x)})
		} else if fs := diffFields(old, x); len(fs) > 0 {
			ops = append(ops, Op{Action: "update", Kind: kind, Key: key(x), Fields: fs})
		}
	}
	return ops
}

// planDeletes appends, in key order, a delete for each definition of
// current that next no longer has.
func planDeletes[T any](ops []Op, kind string, current, next []T, key func(T) string) []Op {
	kept := map[string]bool{}
	for _, x := range next {
		kept[key(x)] = true
	}
	for _, x := range sortedBy(current, key) {
		if !kept[key(x)] {
			ops = append(ops, Op{Action: "delete", Kind: kind, Key: key(x)})
		}
	}
	return ops
}

func sortedBy[T any](xs []T, key func(T) string) []T {
	out := slices.Clone(xs)
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	return out
}

// diffFields lists the JSON fields whose encodings differ, times kept by
// the store aside.
func diffFields(a, b any) []string {
	var ma, mb map[string]json.RawMessage
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	_ = json.Unmarshal(ja, &ma)
	_ = json.Unmarshal(jb, &mb)
	var out []string
	t := reflect.TypeOf(a)
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" || name == "createdAt" || name == "updatedAt" {
			continue
		}
		if !bytes.Equal(ma[name], mb[name]) {
			out = append(out, name)
		}
	}
	return out
}
