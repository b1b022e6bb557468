package jsondecode

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
)

// inexactKey returns the path of the first object key of data that
// encoding/json would match to a field of t only ignoring case (it
// matches "NAME" to the field "name"), with that field's name; nil when
// there is none. Such a key is a second spelling of a field: with both in
// one object, a reader of the document sees one value and the server
// takes the other, and the duplicate check, which compares keys exactly,
// does not see it. Values that decode themselves (json.Unmarshaler,
// encoding.TextUnmarshaler), interfaces and what is not valid JSON are not
// looked into: encoding/json reports the last.
func inexactKey(data []byte, t reflect.Type) (Path, string) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var found Path
	var field string
	var value func(path Path, t reflect.Type) bool
	// value reads one value of type t (nil: any) at path and reports
	// whether the walk goes on.
	value = func(path Path, t reflect.Type) bool {
		if len(path) > MaxDepth {
			return false
		}
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t != nil && decodesItself(t) {
			t = nil
		}
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			var fields map[string]fieldOf
			var elem reflect.Type
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
				next := elem
				if fields != nil {
					f, exact := fields[k]
					if !exact {
						for name, g := range fields {
							if strings.EqualFold(name, k) {
								found, field = append(path.clone(), Step{Key: k}), g.name
								return false
							}
						}
					}
					next = f.typ
				}
				if !value(append(path, Step{Key: k}), next) {
					return false
				}
			}
		case json.Delim('['):
			var elem reflect.Type
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				elem = t.Elem()
			}
			for i := 0; dec.More(); i++ {
				if !value(append(path, Step{Index: i, IsIndex: true}), elem) {
					return false
				}
			}
		default:
			return true
		}
		_, err = dec.Token() // the closing delimiter
		return err == nil
	}
	value(Path{}, t)
	return found, field
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// decodesItself reports whether values of t decode themselves, so that
// their keys are theirs to check.
func decodesItself(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Kind() == reflect.Interface || p.Implements(unmarshaler) || p.Implements(textUnmarshaler)
}

// fieldOf is a JSON field of a struct: its name and Go type.
type fieldOf struct {
	name string
	typ  reflect.Type
}

// fieldsOf returns the JSON fields of struct type t by name, as
// encoding/json names them: the tag's name, else the Go name; fields of
// untagged embedded structs promoted (the outer field wins a clash).
func fieldsOf(t reflect.Type) map[string]fieldOf {
	out := map[string]fieldOf{}
	var add func(t reflect.Type, depth int)
	add = func(t reflect.Type, depth int) {
		if depth > 8 { // embedding this deep is a cycle through pointers
			return
		}
		var embedded []reflect.Type
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			ft := sf.Type
			if sf.Anonymous && name == "" {
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					embedded = append(embedded, ft)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if _, ok := out[name]; !ok {
				out[name] = fieldOf{name, sf.Type}
			}
		}
		for _, e := range embedded {
			add(e, depth+1)
		}
	}
	add(t, 0)
	return out
}
