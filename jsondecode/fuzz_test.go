package jsondecode_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/jsondecode"
)

// FuzzDecode holds the hand-written readers of jsondecode (the depth scan,
// the duplicate walk, the field-case walk, the error explanations) to
// encoding/json on any input: Decode never panics, refuses with an invalid
// input error naming no Go type, accepts into an interface exactly what
// encoding/json accepts when the document is shallow and has no repeated
// key, and then yields the same value; Duplicates and CheckDepth agree
// with a reference reader built on json.Decoder's tokens. The seeds are in
// testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var p plan
		checkRefusal(t, data, jsondecode.Decode(data, &p, jsondecode.Options{DisallowUnknownFields: true}))
		checkRefusal(t, data, jsondecode.Decode(data, &p, jsondecode.Options{}))

		valid := json.Valid(data)
		depth, dup := reference(data)
		if valid {
			if err := jsondecode.CheckDepth(data); (err != nil) != (depth > jsondecode.MaxDepth) {
				t.Fatalf("CheckDepth: %v for a document %d deep (max %d)", err, depth, jsondecode.MaxDepth)
			}
			if depth <= jsondecode.MaxDepth {
				if got := len(jsondecode.Duplicates(data)) > 0; got != dup {
					t.Fatalf("Duplicates found some: %v, the reference: %v", got, dup)
				}
			}
		}
		var got any
		err := jsondecode.Decode(data, &got, jsondecode.Options{DisallowUnknownFields: true})
		checkRefusal(t, data, err)
		if !valid || depth > jsondecode.MaxDepth || dup || len(bytes.TrimSpace(data)) == 0 {
			if err == nil {
				t.Fatalf("accepted %q (valid %v, depth %d, repeated key %v)", data, valid, depth, dup)
			}
			return
		}
		var want any
		if werr := json.Unmarshal(data, &want); (err == nil) != (werr == nil) {
			t.Fatalf("Decode: %v, encoding/json: %v", err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode gave %#v, encoding/json %#v", got, want)
		}
	})
}

// checkRefusal fails t unless err is nil or an invalid input error whose
// message shows no Go type.
func checkRefusal(t *testing.T, data []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *valueloop.Error
	if !errors.As(err, &e) || e.Code != valueloop.EINVALID {
		t.Fatalf("refused %q with %v, want an invalid input error", data, err)
	}
	if bytes.Contains([]byte(e.Message), []byte("map[")) || bytes.Contains([]byte(e.Message), []byte("json.")) {
		t.Fatalf("message %q shows Go types", e.Message)
	}
}

// reference returns the nesting depth of a valid JSON document and whether
// some object repeats a key, read with json.Decoder's tokens.
func reference(data []byte) (depth int, dup bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		keys   map[string]bool
		object bool
		key    bool // the next string token of an object is a key
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return depth, dup
		}
		k, isString := tok.(string)
		if isString && len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].key {
			top := &stack[len(stack)-1]
			if top.keys[k] {
				dup = true
			}
			top.keys[k] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			stack = append(stack, frame{keys: map[string]bool{}, object: tok == json.Delim('{'), key: true})
			depth = max(depth, len(stack))
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// a value ended: the next token of an enclosing object is a key
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true
		}
	}
}
