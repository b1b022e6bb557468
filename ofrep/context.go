package ofrep

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeRequest reads an OFREP request body, {"context": {...}} with any
// other members ignored, into the context object. It is a small
// recursive-descent JSON parser because encoding/json's reflection into
// `any` was the largest cost on the evaluation path after the HTTP stack;
// it produces exactly the values encoding/json would (map[string]any,
// []any, float64, string, bool, nil; the last of duplicate keys wins; the
// "context" member matched case-insensitively as encoding/json matches
// struct fields), and a fuzz test holds it to that.
//
// errContextType reports a context that is valid JSON but not an object.
func decodeRequest(data []byte) (map[string]any, error) {
	// One copy of the body backs every plain string of the result: keys and
	// values are substrings of it, one allocation instead of one each.
	p := parser{data: data, s: string(data)}
	p.ws()
	if !p.consume('{') {
		return nil, p.fail("request body must be a JSON object")
	}
	var ctx any
	var found bool
	p.ws()
	for more := !p.consume('}'); more; {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		// encoding/json assigns every key that matches the field name
		// case-insensitively, in order: the last one wins.
		if strings.EqualFold(key, "context") {
			if ctx, err = p.value(0); err != nil {
				return nil, err
			}
			found = true
		} else if err := p.skip(); err != nil {
			return nil, err
		}
		if more, err = p.next('}'); err != nil {
			return nil, err
		}
	}
	p.ws()
	if p.i != len(p.data) {
		return nil, p.fail("unexpected data after the JSON object")
	}
	if !found || ctx == nil {
		return nil, nil
	}
	m, ok := ctx.(map[string]any)
	if !ok {
		return nil, errContextType
	}
	return m, nil
}

var errContextType = errors.New("context must be a JSON object")

// maxDepth bounds nesting, so a hostile body cannot exhaust the stack.
const maxDepth = 200

// tooDeep is the syntaxError message of nesting beyond maxDepth.
const tooDeep = "nested too deeply"

// isTooDeep reports whether err is decodeRequest's refusal of nesting
// beyond maxDepth: the JSON may be well-formed.
func isTooDeep(err error) bool {
	var se *syntaxError
	return errors.As(err, &se) && se.msg == tooDeep
}

type parser struct {
	data []byte
	s    string // data as a string
	i    int
	// skipping: validate without building values (members other than
	// "context", whose numbers encoding/json never converts).
	skipping bool
}

// syntaxError is malformed JSON, with the byte offset where it was found.
type syntaxError struct {
	msg    string
	offset int
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.offset) }

func (p *parser) fail(msg string) error { return &syntaxError{msg: msg, offset: p.i} }

func (p *parser) ws() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) consume(c byte) bool {
	if p.i < len(p.data) && p.data[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, p.fail(tooDeep)
	}
	if p.i >= len(p.data) {
		return nil, p.fail("unexpected end of JSON input")
	}
	switch c := p.data[p.i]; {
	case c == '{':
		p.i++
		m := map[string]any{}
		p.ws()
		if p.consume('}') {
			return m, nil
		}
		for more := true; more; {
			key, err := p.key()
			if err != nil {
				return nil, err
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if !p.skipping {
				m[key] = v
			}
			if more, err = p.next('}'); err != nil {
				return nil, err
			}
		}
		return m, nil
	case c == '[':
		p.i++
		a := []any{}
		p.ws()
		if p.consume(']') {
			return a, nil
		}
		for more := true; more; {
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if !p.skipping {
				a = append(a, v)
			}
			if more, err = p.next(']'); err != nil {
				return nil, err
			}
		}
		return a, nil
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, p.fail(fmt.Sprintf("invalid character %q looking for beginning of value", p.data[p.i]))
}

// key reads an object member's key and the colon after it.
func (p *parser) key() (string, error) {
	p.ws()
	key, err := p.str()
	if err != nil {
		return "", err
	}
	p.ws()
	if !p.consume(':') {
		return "", p.fail("expected ':' after object key")
	}
	p.ws()
	return key, nil
}

// next reads what follows a member of an object or an element of an array
// closed by end ('}' or ']'): a comma (more follow) or end (none do).
func (p *parser) next(end byte) (more bool, err error) {
	p.ws()
	switch {
	case p.consume(','):
		return true, nil
	case p.consume(end):
		return false, nil
	case end == '}':
		return false, p.fail("expected ',' or '}' in object")
	}
	return false, p.fail("expected ',' or ']' in array")
}

// skip passes over one value, checking its syntax only.
func (p *parser) skip() error {
	p.skipping = true
	_, err := p.value(0)
	p.skipping = false
	return err
}

func (p *parser) literal(word string) error {
	if len(p.data)-p.i >= len(word) && string(p.data[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return nil
	}
	return p.fail("invalid literal")
}

// number checks the JSON number grammar and converts as encoding/json does.
func (p *parser) number() (any, error) {
	start := p.i
	p.consume('-')
	switch {
	case p.consume('0'):
	case p.i < len(p.data) && p.data[p.i] >= '1' && p.data[p.i] <= '9':
		p.digits()
	default:
		return nil, p.fail("invalid number")
	}
	if p.consume('.') {
		if p.digits() == 0 {
			return nil, p.fail("invalid number: digits expected after '.'")
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if !p.consume('+') {
			p.consume('-')
		}
		if p.digits() == 0 {
			return nil, p.fail("invalid number: digits expected in exponent")
		}
	}
	if p.skipping {
		return nil, nil
	}
	f, err := strconv.ParseFloat(string(p.data[start:p.i]), 64)
	if err != nil {
		return nil, &syntaxError{msg: "number " + string(p.data[start:p.i]) + " does not fit a 64-bit float", offset: start}
	}
	return f, nil
}

func (p *parser) digits() int {
	n := 0
	for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// str reads a JSON string. Plain strings (no escapes, valid UTF-8, no
// control characters) are copied directly; anything else is handed to
// encoding/json, whose escape and invalid-UTF-8 handling it must match.
func (p *parser) str() (string, error) {
	if !p.consume('"') {
		return "", p.fail("expected string")
	}
	start := p.i
	plain := true
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			raw := p.data[start:p.i]
			p.i++
			if plain && utf8.Valid(raw) {
				return p.s[start : p.i-1], nil
			}
			var s string
			if err := json.Unmarshal(p.data[start-1:p.i], &s); err != nil {
				return "", &syntaxError{msg: "invalid string", offset: start - 1}
			}
			return s, nil
		case c == '\\':
			plain = false
			p.i += 2
			continue
		case c < 0x20:
			return "", p.fail("invalid control character in string")
		}
		p.i++
	}
	return "", p.fail("unexpected end of JSON input in string")
}
