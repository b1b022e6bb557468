// Package flagd reads and writes flag sets in flagd's flag-definition file
// format (https://flagd.dev/reference/flag-definitions/): a JSON (or YAML)
// object with "flags", optional shared "$evaluators" and set "metadata".
//
// Parse checks a file's structure against flagd's schema and then compiles
// it with package evaluation, so a set that Parse accepts can be served.
// Marshal writes a set back in a form flagd itself loads. Evaluation lives
// in package evaluation; nothing here does I/O.
package flagd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/evaluation"
	"github.com/valueloop/valueloop/jsondecode"
	yaml "go.yaml.in/yaml/v3"
)

// SchemaURL is the JSON schema Marshal names in "$schema".
const SchemaURL = "https://flagd.dev/schema/v0/flags.json"

// Parse reads one flagd file: JSON, or YAML when source ends in .yaml or
// .yml or data does not start with '{'. It checks the structure (unknown
// fields, types, duplicate keys) and compiles the targeting, and returns
// every problem at once as a *valueloop.ValidationError whose problems name
// source, flag and JSON pointer (e.g. "/flags/new-ui/variants/on").
//
// Targeting and evaluators are kept as compact JSON, so Parse(Marshal(s))
// equals s for any set Parse returned.
func Parse(source string, data []byte) (*valueloop.FlagSet, error) {
	set, _, err := parse(source, data, false)
	return set, err
}

// Load is Parse that also returns the snapshot compiled while validating, for
// callers that evaluate the set at once (the Go provider on every streamed
// change): it saves compiling the set a second time.
func Load(source string, data []byte) (*valueloop.FlagSet, *evaluation.Snapshot, error) {
	return parse(source, data, false)
}

// ParseLenient is Parse for files written for flagd itself, which loads
// what its schema refuses with a warning: it ignores unknown fields, leaves
// out null metadata values (the schema allows strings, numbers and
// booleans), and accepts targeting that flagd loads although it can only
// fail or fall back when evaluated (see evaluation.Options.Lenient). Each
// field ignored or left out is returned as a warning, a problem naming it.
// Compile such a set with evaluation.CompileWith and Lenient set.
func ParseLenient(source string, data []byte) (*valueloop.FlagSet, []valueloop.Problem, error) {
	p := &parser{source: source, lenient: true}
	set, _, err := p.parse(data)
	if err != nil {
		return nil, nil, err
	}
	return set, p.warnings, nil
}

// ParseFlag parses and validates one flag definition object, as the admin
// API receives it. Problem paths are relative to that object ("/state").
// $refs to evaluators are checked when the flag's set is compiled.
func ParseFlag(source, key string, data []byte) (*valueloop.Flag, error) {
	p := &parser{source: source}
	if !valueloop.ValidFlagKey(key) {
		p.problem("", "/key", "flag key %s %s", quoteKey(key), valueloop.FlagKeyRule)
		return nil, p.err()
	}
	js, ok := p.toJSON(data)
	if !ok || !p.shape(js) {
		return nil, p.err()
	}
	f := p.flag(key, js, "", false)
	if f != nil && len(p.problems) == 0 {
		for _, pr := range evaluation.CheckFlag(key, f, nil) {
			pr.Path = strings.TrimPrefix(pr.Path, "/flags/"+escape(key))
			p.add(pr)
		}
	}
	if len(p.problems) > 0 {
		return nil, p.err()
	}
	return f, nil
}

type parser struct {
	source   string
	lenient  bool
	problems []valueloop.Problem
	warnings []valueloop.Problem // what lenient parsing ignored
}

func (p *parser) problem(flag, path, format string, args ...any) {
	p.problems = append(p.problems, valueloop.Problem{Source: p.source, Flag: flag, Path: path, Message: fmt.Sprintf(format, args...)})
}

// ignored records what lenient parsing passed over, as flagd loads it
// with a schema warning.
func (p *parser) ignored(flag, path, format string, args ...any) {
	p.warnings = append(p.warnings, valueloop.Problem{Source: p.source, Flag: flag, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (p *parser) add(pr valueloop.Problem) {
	pr.Source = p.source
	p.problems = append(p.problems, pr)
}

func (p *parser) err() error {
	return &valueloop.ValidationError{Problems: p.problems}
}

func parse(source string, data []byte, lenient bool) (*valueloop.FlagSet, *evaluation.Snapshot, error) {
	return (&parser{source: source, lenient: lenient}).parse(data)
}

func (p *parser) parse(data []byte) (*valueloop.FlagSet, *evaluation.Snapshot, error) {
	lenient := p.lenient
	js, ok := p.toJSON(data)
	if !ok {
		return nil, nil, p.err()
	}
	if !p.shape(js) {
		return nil, nil, p.err()
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		p.problem("", "", "a flagd file must be a JSON object with \"flags\": %s", jsonError(js, err))
		return nil, nil, p.err()
	}
	set := &valueloop.FlagSet{Flags: map[string]*valueloop.Flag{}}
	keys := sortedKeys(top)
	// Compile's paths name flags by key; the array form names them by index.
	index := map[string]int{}
	arrayForm := false
	for _, k := range keys {
		raw := top[k]
		switch k {
		case "$schema":
			var s string
			if json.Unmarshal(raw, &s) != nil {
				p.problem("", "/$schema", "$schema must be a string")
			}
		case "flags":
			arrayForm = p.flags(raw, set, index)
		case "$evaluators":
			set.Evaluators = p.evaluators(raw)
		case "metadata":
			set.Metadata = p.object("", "/metadata", raw)
		default:
			if !lenient {
				p.problem("", "/"+escape(k), "unknown field %q (a flagd file has $schema, flags, $evaluators and metadata)", k)
			} else {
				p.ignored("", "/"+escape(k), "unknown field %q ignored (a flagd file has $schema, flags, $evaluators and metadata)", k)
			}
		}
	}
	if _, ok := top["flags"]; !ok {
		p.problem("", "/flags", "a flagd file needs \"flags\"")
	}
	snap, err := evaluation.CompileWith(set, evaluation.Options{Lenient: lenient})
	if err != nil {
		var ve *valueloop.ValidationError
		if !errors.As(err, &ve) {
			return nil, nil, err
		}
		for _, pr := range ve.Problems {
			if arrayForm && pr.Flag != "" {
				prefix := "/flags/" + escape(pr.Flag)
				if i, ok := index[pr.Flag]; ok && strings.HasPrefix(pr.Path, prefix) {
					pr.Path = "/flags/" + strconv.Itoa(i) + strings.TrimPrefix(pr.Path, prefix)
				}
			}
			p.add(pr)
		}
	}
	if len(p.problems) > 0 {
		return nil, nil, p.err()
	}
	return set, snap, nil
}

// toJSON returns data as JSON, converting YAML.
func (p *parser) toJSON(data []byte) ([]byte, bool) {
	trimmed := bytes.TrimSpace(data)
	lower := strings.ToLower(p.source)
	isYAML := strings.HasSuffix(lower, ".yaml") || strings.HasSuffix(lower, ".yml") ||
		(len(trimmed) > 0 && trimmed[0] != '{' && trimmed[0] != '[')
	if len(trimmed) == 0 {
		p.problem("", "", "the definition is empty")
		return nil, false
	}
	if !isYAML {
		return data, true
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.problem("", "", "not valid YAML: %v", err)
		return nil, false
	}
	doc, err := fromYAML(doc, "", 0)
	if err != nil {
		p.problem("", "", "%v", err)
		return nil, false
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		p.problem("", "", "YAML cannot be converted to JSON: %v", err)
		return nil, false
	}
	return buf.Bytes(), true
}

// fromYAML turns decoded YAML into JSON-compatible values, refusing nesting
// deeper than JSON input may have.
func fromYAML(v any, path string, depth int) (any, error) {
	if depth > jsondecode.MaxDepth {
		return nil, fmt.Errorf("the YAML document nests mappings and sequences deeper than %d levels (at %s)", jsondecode.MaxDepth, path)
	}
	depth++
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			c, err := fromYAML(x, path+"/"+escape(k), depth)
			if err != nil {
				return nil, err
			}
			t[k] = c
		}
		return t, nil
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%s: YAML keys must be strings, not %v", path, k)
			}
			c, err := fromYAML(x, path+"/"+escape(ks), depth)
			if err != nil {
				return nil, err
			}
			m[ks] = c
		}
		return m, nil
	case []any:
		for i, x := range t {
			c, err := fromYAML(x, path+"/"+strconv.Itoa(i), depth)
			if err != nil {
				return nil, err
			}
			t[i] = c
		}
		return t, nil
	}
	return v, nil
}

// shape checks what must hold before js is decoded: nesting depth first (one
// cheap scan, and every reader after it — the duplicate check, encoding/json,
// the targeting compiler — recurses), then duplicate keys. It reports whether
// decoding may go on.
func (p *parser) shape(js []byte) bool {
	if err := jsondecode.CheckDepth(js); err != nil {
		var ve *valueloop.Error
		errors.As(err, &ve)
		p.problem("", "", "%s", ve.Message)
		return false
	}
	p.duplicates(js)
	return true
}

// duplicates reports every key repeated in its object: encoding/json would
// keep the last silently, while flagd's own reader may not.
func (p *parser) duplicates(js []byte) {
	for _, path := range jsondecode.Duplicates(js) {
		p.problem("", path.Pointer(), "key %q appears more than once", valueloop.ClipKey(path[len(path)-1].Key))
	}
}

// flags reads the "flags" object (or flagd's array form, whose elements
// carry a "key"); it reports whether the array form was used.
func (p *parser) flags(raw json.RawMessage, set *valueloop.FlagSet, index map[string]int) bool {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			p.problem("", "/flags", "flags must be an object or an array: %v", err)
			return true
		}
		for i, el := range list {
			path := "/flags/" + strconv.Itoa(i)
			var head struct {
				Key *string `json:"key"`
			}
			if json.Unmarshal(el, &head) != nil || head.Key == nil || *head.Key == "" {
				p.problem("", path+"/key", "a flag in the flags array needs a non-empty string \"key\"")
				continue
			}
			key := *head.Key
			if !valueloop.ValidFlagKey(key) {
				p.problem("", path+"/key", "flag key %s %s", quoteKey(key), valueloop.FlagKeyRule)
				continue
			}
			if _, dup := index[key]; dup {
				p.problem(key, path+"/key", "flag key %q is used twice", key)
				continue
			}
			index[key] = i
			if f := p.flag(key, el, path, true); f != nil {
				set.Flags[key] = f
			}
		}
		return true
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		p.problem("", "/flags", "flags must be an object of flags by key")
		return false
	}
	for _, key := range sortedKeys(m) {
		path := "/flags/" + escape(key)
		if key == "" {
			p.problem("", path, "flag keys must not be empty")
			continue
		}
		if !valueloop.ValidFlagKey(key) {
			// The path is the flags object: the key itself may be huge.
			p.problem("", "/flags", "flag key %s %s", quoteKey(key), valueloop.FlagKeyRule)
			continue
		}
		if f := p.flag(key, m[key], path, false); f != nil {
			set.Flags[key] = f
		}
	}
	return false
}

// flag reads one flag object; it returns nil when its structure is wrong
// (the problems are recorded; Compile then checks the rest of the set).
func (p *parser) flag(key string, raw json.RawMessage, path string, keyAllowed bool) *valueloop.Flag {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		p.problem(key, path, "a flag must be an object with state and variants")
		return nil
	}
	before := len(p.problems)
	f := &valueloop.Flag{Key: key}
	for _, field := range sortedKeys(m) {
		v := m[field]
		fp := path + "/" + escape(field)
		switch field {
		case "state":
			if json.Unmarshal(v, &f.State) != nil {
				p.problem(key, fp, `state must be "ENABLED" or "DISABLED"`)
			}
		case "variants":
			if json.Unmarshal(v, &f.Variants) != nil || f.Variants == nil {
				p.problem(key, fp, "variants must be an object of values by variant name")
			}
		case "defaultVariant":
			if json.Unmarshal(v, &f.DefaultVariant) != nil {
				p.problem(key, fp, "defaultVariant must be a variant name or null")
			}
		case "targeting":
			var buf bytes.Buffer
			if err := json.Compact(&buf, v); err != nil {
				p.problem(key, fp, "targeting is not valid JSON: %v", err)
				continue
			}
			// {} is no targeting to flagd (STATIC); null is kept, as flagd
			// runs it as a rule that yields null (DEFAULT).
			if buf.String() != "{}" {
				f.Targeting = json.RawMessage(buf.Bytes())
			}
		case "metadata":
			f.Metadata = p.object(key, fp, v)
		case "key":
			switch {
			case keyAllowed:
			case p.lenient:
				p.ignored(key, fp, "unknown field \"key\" ignored (the key of a flag is its name in \"flags\")")
			default:
				p.problem(key, fp, "unknown field \"key\" (the key of a flag is its name in \"flags\")")
			}
		default:
			if !p.lenient {
				p.problem(key, fp, "unknown field %q (a flag has state, variants, defaultVariant, targeting and metadata)", field)
			} else {
				p.ignored(key, fp, "unknown field %q ignored (a flag has state, variants, defaultVariant, targeting and metadata)", field)
			}
		}
	}
	if len(p.problems) > before {
		return nil
	}
	return f
}

func (p *parser) evaluators(raw json.RawMessage) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		p.problem("", "/$evaluators", "$evaluators must be an object of JsonLogic rules by name")
		return nil
	}
	out := make(map[string]json.RawMessage, len(m))
	for name, body := range m {
		var buf bytes.Buffer
		if err := json.Compact(&buf, body); err != nil {
			p.problem("", "/$evaluators/"+escape(name), "not valid JSON: %v", err)
			continue
		}
		out[name] = json.RawMessage(buf.Bytes())
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// object decodes a metadata object; nil when empty. Lenient parsing leaves
// out null values, with a warning; strict parsing leaves them for Compile
// to refuse, as flagd's schema does.
func (p *parser) object(flag, path string, raw json.RawMessage) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		p.problem(flag, path, "metadata must be an object")
		return nil
	}
	for _, k := range sortedKeys(m) {
		if m[k] == nil && p.lenient {
			p.ignored(flag, path+"/"+escape(k), "null metadata value ignored (flagd's schema allows strings, numbers and booleans)")
			delete(m, k)
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// Marshal writes set as a flagd JSON file: "$schema", then flags, shared
// evaluators and metadata, with keys sorted and two-space indentation, and
// without HTML escaping (so "<" stays "<" in rules). It does not validate:
// Compile does.
func Marshal(set *valueloop.FlagSet) ([]byte, error) {
	if set == nil {
		return nil, errors.New("flagd: marshal: no flag set")
	}
	type outFlag struct {
		State          string          `json:"state"`
		Variants       map[string]any  `json:"variants"`
		DefaultVariant *string         `json:"defaultVariant"`
		Targeting      json.RawMessage `json:"targeting,omitempty"`
		Metadata       map[string]any  `json:"metadata,omitempty"`
	}
	type outFile struct {
		Schema     string                     `json:"$schema"`
		Flags      map[string]outFlag         `json:"flags"`
		Evaluators map[string]json.RawMessage `json:"$evaluators,omitempty"`
		Metadata   map[string]any             `json:"metadata,omitempty"`
	}
	out := outFile{Schema: SchemaURL, Flags: make(map[string]outFlag, len(set.Flags)), Evaluators: set.Evaluators, Metadata: set.Metadata}
	for key, f := range set.Flags {
		if f == nil {
			return nil, fmt.Errorf("flagd: marshal: flag %q is nil", key)
		}
		out.Flags[key] = outFlag{State: f.State, Variants: f.Variants, DefaultVariant: f.DefaultVariant, Targeting: f.Targeting, Metadata: f.Metadata}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("flagd: marshal: %w", err)
	}
	return buf.Bytes(), nil
}

// jsonError describes a JSON syntax or type error in JSON terms.
func jsonError(data []byte, err error) string {
	_, msg := jsondecode.Explain(data, err)
	return msg
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// escape escapes a JSON pointer token.
func escape(s string) string {
	s = strings.ReplaceAll(s, "~", "~0")
	return strings.ReplaceAll(s, "/", "~1")
}

// quoteKey quotes a refused key for a message, cut short (valueloop.Clip):
// it may be 70,000 characters long. Cut at its 64th byte, it split a
// character ("\xc3").
func quoteKey(key string) string { return strconv.Quote(valueloop.Clip(key)) }
