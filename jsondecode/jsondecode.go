// Package jsondecode reads JSON that people and other systems send — API
// request bodies, webhook payloads, flagd files — and turns what is wrong with
// it into errors a user can act on: the field (a path such as
// "steps.1.percent") and the problem in JSON terms ("must be a number, not a
// string"), never Go's type names. Objects that repeat a key are refused:
// encoding/json would silently keep the last one, so that two readers of one
// document (a signature check and a parser, a reviewer and the server) could
// see different values.
//
// It is the one place for this; it does not validate the decoded values
// (that is each type's Validate) and does not read HTTP requests.
package jsondecode

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
)

// Options says how strict Decode is.
type Options struct {
	// DisallowUnknownFields refuses object keys that the target has no field
	// for, and keys that name a field only ignoring case ("NAME" for
	// "name", which encoding/json takes): right for the API's own
	// requests, wrong for payloads of other systems, which grow new fields.
	DisallowUnknownFields bool
	// AllowDuplicateKeys keeps encoding/json's behaviour (the last value
	// wins) for callers that report duplicates themselves with Duplicates.
	AllowDuplicateKeys bool
}

// Decode reads the single JSON value in data into v. Its errors are
// *valueloop.Error values of kind EINVALID whose Field is the dotted path of
// the offending value ("" for the document as a whole).
func Decode(data []byte, v any, opt Options) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return valueloop.Errorf(valueloop.EINVALID, "the body is empty: want a JSON value")
	}
	if err := CheckDepth(data); err != nil {
		return err
	}
	// One read of the keys for both checks: repeated keys, and (strict)
	// keys naming a field only ignoring case, which encoding/json takes;
	// an exact reader takes only the fields' own names.
	var strict reflect.Type
	if opt.DisallowUnknownFields {
		strict = reflect.TypeOf(v)
	}
	if strict != nil || !opt.AllowDuplicateKeys {
		if path, field, dup := checkKeys(data, strict, !opt.AllowDuplicateKeys); path != nil {
			if dup {
				return valueloop.FieldErrorf(path.Dotted(), "appears more than once in its object")
			}
			return valueloop.FieldErrorf(path.Dotted(), "is not a known field (field names are case-sensitive: %q)", field)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if opt.DisallowUnknownFields {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		path, msg := Explain(data, err)
		if len(path) == 0 {
			if strings.HasPrefix(msg, "is ") || strings.HasPrefix(msg, "must ") || strings.HasPrefix(msg, "has ") {
				msg = "the JSON document " + msg
			}
			return valueloop.Errorf(valueloop.EINVALID, "%s", msg)
		}
		return valueloop.FieldErrorf(path.Dotted(), "%s", msg)
	}
	if _, err := dec.Token(); err != io.EOF {
		return valueloop.Errorf(valueloop.EINVALID, "the JSON document has data after its value (at byte %d)", dec.InputOffset())
	}
	return nil
}

// Path is where a value sits in a document: object keys and array indices
// from the root.
type Path []Step

// Step is one object key, or with IsIndex one array index.
type Step struct {
	Key     string
	Index   int
	IsIndex bool
}

func (p Path) with(s Step) Path { return append(p[:len(p):len(p)], s) }

// clone returns a copy of p that later pushes onto p cannot change.
func (p Path) clone() Path { return append(Path(nil), p...) }

// MaxDepth is how deeply objects and arrays may nest in a document read
// here (flagd files, targeting rules, API bodies, webhook payloads). Real
// documents stay far below it (a JsonLogic if-else chain of 60 branches
// nests 120 levels); hostile ones far above it would cost every reader
// that recurses.
const MaxDepth = 128

// CheckDepth refuses data nested deeper than MaxDepth, naming where. It
// reads every byte once and allocates nothing unless it refuses, so it is
// the cheap first check before any reader that recurses.
func CheckDepth(data []byte) error {
	depth, inString, escaped := 0, false, false
	for i, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > MaxDepth {
				line, col := position(data, int64(i)+1)
				where := pathAt(data, int64(i)+1)
				if len(where) > 6 {
					where = where[:6]
				}
				return valueloop.Errorf(valueloop.EINVALID, "the JSON document nests objects and arrays deeper than %d levels at line %d, column %d (under %q)", MaxDepth, line, col, where.Pointer())
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// Dotted writes p as "steps[1].percent", the form of the API's field errors.
// A key longer than any flag key is cut to 64 bytes (valueloop.ClipKey),
// as in every message quoting input: an unknown key as long as the body
// was echoed whole, twice.
func (p Path) Dotted() string {
	var b strings.Builder
	for _, s := range p {
		if s.IsIndex {
			fmt.Fprintf(&b, "[%d]", s.Index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(valueloop.ClipKey(s.Key))
	}
	return b.String()
}

// Pointer writes p as a JSON Pointer (RFC 6901), "/steps/1/percent", the
// form of flagd problems, its keys cut as Dotted's.
func (p Path) Pointer() string {
	var b strings.Builder
	for _, s := range p {
		b.WriteByte('/')
		if s.IsIndex {
			b.WriteString(strconv.Itoa(s.Index))
		} else {
			b.WriteString(strings.ReplaceAll(strings.ReplaceAll(valueloop.ClipKey(s.Key), "~", "~0"), "/", "~1"))
		}
	}
	return b.String()
}

// Duplicates returns the path of every key that appears a second (or later)
// time in its object, in document order. A document that is not valid JSON
// yields the duplicates before the error; the error is for Decode to report.
func Duplicates(data []byte) []Path {
	var dups []Path
	walk(data, nil, func(path Path, key string, seen map[string]bool, _ map[string]fieldOf) bool {
		if seen[key] {
			dups = append(dups, append(path.clone(), Step{Key: key}))
		}
		return true
	}, nil)
	return dups
}

// Explain maps an error of encoding/json about data to the path of the value
// at fault and a message in JSON terms. Errors that carry no position (from a
// type's own UnmarshalJSON, such as a time in the wrong format) keep their
// message and get the root path.
func Explain(data []byte, err error) (Path, string) {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		path := pathAt(data, te.Offset)
		if path == nil && te.Field != "" {
			for _, k := range strings.Split(te.Field, ".") {
				path = path.with(Step{Key: k})
			}
		}
		return path, fmt.Sprintf("must be %s, not %s", kind(te.Type), article(te.Value))
	case errors.As(err, &se):
		line, col := position(data, se.Offset)
		return nil, fmt.Sprintf("is not valid JSON at line %d, column %d: %s", line, col, strings.TrimPrefix(se.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, "is not valid JSON: the document ends too early"
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		// time.Time says which Go layout failed; users need the format.
		return nil, fmt.Sprintf("a time must be RFC 3339, such as 2026-01-05T08:00:00Z, not %q", pe.Value)
	}
	msg := err.Error()
	if lit, ok := strings.CutPrefix(msg, "json: invalid number literal, trying to unmarshal "); ok {
		// A json.Number given a string: encoding/json does not say where.
		lit, _ = strings.CutSuffix(lit, " into Number")
		if v, err := strconv.Unquote(lit); err == nil {
			lit = v
		}
		return nil, "has " + lit + " where a number belongs"
	}
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		key, _ := strconv.Unquote(name)
		return unknownPath(data, key), "is not a known field"
	}
	// An error from a type's own UnmarshalJSON (a duration, an enum) says
	// nothing of where; when it quotes the value it refused, and one value
	// of the document is that string, that value's path is where.
	return valuePath(data, msg), strings.TrimPrefix(msg, "json: ")
}

var quotedValue = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// valuePath returns the path of the one value of data that msg quotes, or
// nil when msg quotes none or several values are alike.
func valuePath(data []byte, msg string) Path {
	lit := quotedValue.FindString(msg)
	if lit == "" {
		return nil
	}
	var found []Path
	walk(data, nil, nil, func(path Path, end int64) bool {
		if start := end - int64(len(lit)); start >= 0 && string(data[start:end]) == lit {
			found = append(found, path)
		}
		return true
	})
	if len(found) != 1 {
		return nil
	}
	return found[0]
}

// walk reads data token by token, calling onKey for every object key with
// the path of its object, the keys seen so far in it (before key is added)
// and, when the object decodes into a struct of t (the type data decodes
// into, nil for none), that struct's fields (fieldsOf); and onValue after
// every value with its path and the input offset just past its first
// token. Either may stop the walk by returning false. The path passed is
// one stack pushed and popped as the walk descends (so a walk costs time
// linear in the document, not in depth squared): callbacks that keep it
// must clone it. The walk stops below MaxDepth.
func walk(data []byte, t reflect.Type, onKey func(path Path, key string, seen map[string]bool, fields map[string]fieldOf) bool, onValue func(path Path, end int64) bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	stack := Path{}
	var value func(path Path, t reflect.Type) bool
	value = func(path Path, t reflect.Type) bool {
		if len(path) > MaxDepth {
			return false
		}
		t = intoType(t)
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if onValue != nil && !onValue(path, dec.InputOffset()) {
			return false
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			var fields map[string]fieldOf
			var elem reflect.Type // of every value, when t is a map
			switch {
			case t == nil:
			case t.Kind() == reflect.Struct:
				fields = fieldsOf(t)
			case t.Kind() == reflect.Map:
				elem = t.Elem()
			}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return false
				}
				k, _ := kt.(string)
				if onKey != nil && !onKey(path, k, seen, fields) {
					return false
				}
				seen[k] = true
				next := elem
				if fields != nil {
					next = fields[k].typ
				}
				stack = append(path, Step{Key: k})
				if !value(stack, next) {
					return false
				}
			}
		case json.Delim('['):
			var elem reflect.Type
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				elem = t.Elem()
			}
			for i := 0; dec.More(); i++ {
				stack = append(path, Step{Index: i, IsIndex: true})
				if !value(stack, elem) {
					return false
				}
			}
		default:
			return true
		}
		_, err = dec.Token() // the closing delimiter
		return err == nil
	}
	value(stack, t)
}

// pathAt returns the path of the first value whose first token ends at or
// after offset: the value encoding/json was reading when it failed there.
func pathAt(data []byte, offset int64) Path {
	var at Path
	walk(data, nil, nil, func(path Path, end int64) bool {
		at = path.clone()
		return end < offset
	})
	return at
}

// unknownPath returns the path of the first occurrence of key.
func unknownPath(data []byte, key string) Path {
	found := Path{{Key: key}}
	walk(data, nil, func(path Path, k string, _ map[string]bool, _ map[string]fieldOf) bool {
		if k == key {
			found = append(path.clone(), Step{Key: k})
			return false
		}
		return true
	}, nil)
	return found
}

// position turns a byte offset (just past the bad byte) into a line and
// column, both from 1.
func position(data []byte, offset int64) (line, col int) {
	line, col = 1, 1
	for _, b := range data[:max(0, min(int(offset)-1, len(data)))] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	numberType      = reflect.TypeFor[json.Number]()
	rawType         = reflect.TypeFor[json.RawMessage]()
)

// kind names what JSON a Go type takes, with an article.
func kind(t reflect.Type) string {
	if t == nil {
		return "another kind of value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == numberType:
		return "a number"
	case t == rawType:
		return "a JSON value"
	case reflect.PointerTo(t).Implements(textUnmarshaler):
		return "a string"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a string (base64)"
		}
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another kind of value"
}

// article names the JSON value encoding/json found ("string", "number 1.5",
// "array") with an article.
func article(found string) string {
	switch {
	case found == "":
		return "this value"
	case found == "array" || found == "object":
		return "an " + found
	case found == "number":
		return "a number"
	case strings.HasPrefix(found, "number "):
		return "the " + found
	case found == "bool":
		return "true or false"
	}
	return "a " + found
}
