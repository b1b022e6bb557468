package jsondecode

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// checkKeys reads data once for what Decode refuses in object keys before
// decoding: with dups, a key repeated in its object; with t (the target's
// type, nil for none), a key that encoding/json would match to a field of
// t only ignoring case (it matches "NAME" to the field "name"). It returns
// the path of the first such key in document order, with, for the second
// kind, the field's name (dup false); nil when there is none. A key in
// another case is a second spelling of a field: with both in one object, a
// reader of the document sees one value and the server takes the other,
// and the duplicate check, which compares keys exactly, does not see it.
// Values that decode themselves (json.Unmarshaler, encoding.TextUnmarshaler)
// and interfaces are not looked into for fields, and the read stops where
// data is not valid JSON: encoding/json reports that.
func checkKeys(data []byte, t reflect.Type, dups bool) (found Path, field string, dup bool) {
	walk(data, t, func(path Path, k string, seen map[string]bool, fields map[string]fieldOf) bool {
		if dups && seen[k] {
			found, dup = append(path.clone(), Step{Key: k}), true
			return false
		}
		if _, exact := fields[k]; fields != nil && !exact {
			for name, f := range fields {
				if strings.EqualFold(name, k) {
					found, field = append(path.clone(), Step{Key: k}), f.name
					return false
				}
			}
		}
		return true
	}, nil)
	return found, field, dup
}

// intoType is what a value decoding into t is looked into as: t without
// its pointers, or nil (nothing to look into) for an interface or a type
// that decodes itself.
func intoType(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || decodesItself(t) {
		return nil
	}
	return t
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

// fieldCache holds fieldsOf's answers by type: a body of many objects of
// one type asks for the same fields each time.
var fieldCache sync.Map // reflect.Type → map[string]fieldOf

// fieldsOf returns the JSON fields of struct type t by name, as
// encoding/json names them: the tag's name, else the Go name; fields of
// untagged embedded structs promoted (the outer field wins a clash). The
// map is shared: read it only.
func fieldsOf(t reflect.Type) map[string]fieldOf {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]fieldOf)
	}
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
	fieldCache.Store(t, out)
	return out
}
