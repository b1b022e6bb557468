package evaluation

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// kind is the JSON type of a value, plus kErr for an evaluation that failed.
type kind uint8

const (
	kNull kind = iota
	kBool
	kNum
	kStr
	kArr
	kObj
	kErr
)

// value is what a compiled node returns. Numbers stay unboxed so that
// arithmetic and comparisons never allocate; arrays and objects keep the
// []any / map[string]any they came from (a nil a means an empty one).
//
// An error (kErr) stands for a Go panic inside diegoholiveira/jsonlogic,
// which flagd turns into a PARSE_ERROR for the whole evaluation: every
// operation returns an error operand unchanged, so the first one wins.
type value struct {
	k     kind
	split bool // chosen by fractional: the reason is SPLIT
	ctx   bool // kErr only: the context was at fault (INVALID_CONTEXT), not the rule
	b     bool
	vi    uint32 // a constant known to name variant vi-1 of its flag: no lookup
	n     float64
	s     string // string, or the message of an error
	a     any    // []any (kArr) or map[string]any (kObj)
}

var (
	null     = value{}
	trueV    = value{k: kBool, b: true}
	falseV   = value{k: kBool}
	emptyArr = value{k: kArr}
	// Shared empty containers, handed out read-only.
	emptyArrAny any = []any{}
	emptyObjAny any = map[string]any{}
)

func boolV(b bool) value   { return value{k: kBool, b: b} }
func numV(n float64) value { return value{k: kNum, n: n} }
func strV(s string) value  { return value{k: kStr, s: s} }

// arrV and objV keep nil as a nil interface, which stands for empty.
func arrV(a []any) value {
	if a == nil {
		return value{k: kArr}
	}
	return value{k: kArr, a: a}
}

func objV(m map[string]any) value {
	if m == nil {
		return value{k: kObj}
	}
	return value{k: kObj, a: m}
}

// errV is the value of an operation that would have panicked in the
// library: the evaluation ends with PARSE_ERROR.
func errV(msg string) value { return value{k: kErr, s: msg} }

// variantName is the variant a targeting result names, as flagd reads it: a
// string itself, a boolean or number as its JSON text. Other kinds name
// none.
func (v value) variantName() (string, bool) {
	switch v.k {
	case kStr:
		return v.s, true
	case kBool:
		if v.b {
			return "true", true
		}
		return "false", true
	case kNum:
		return jsonNumberText(v.n), true
	}
	return "", false
}

func (v value) arr() []any {
	if v.a == nil {
		return nil
	}
	return v.a.([]any)
}

func (v value) obj() map[string]any {
	if v.a == nil {
		return nil
	}
	return v.a.(map[string]any)
}

// fromAny converts a decoded JSON value, or a Go value from an evaluation
// context, to a value. Context values of types encoding/json would not
// produce take a slow path through encoding/json, as flagd's own round trip
// of the context does.
func fromAny(x any) value {
	switch t := x.(type) {
	case nil:
		return null
	case string:
		return value{k: kStr, s: t}
	case float64:
		return value{k: kNum, n: t}
	case bool:
		return value{k: kBool, b: t}
	case map[string]any:
		return objV(t)
	case []any:
		return arrV(t)
	case int:
		return numV(float64(t))
	case int64:
		return numV(float64(t))
	case int32:
		return numV(float64(t))
	case int16:
		return numV(float64(t))
	case int8:
		return numV(float64(t))
	case uint:
		return numV(float64(t))
	case uint64:
		return numV(float64(t))
	case uint32:
		return numV(float64(t))
	case uint16:
		return numV(float64(t))
	case uint8:
		return numV(float64(t))
	case float32:
		// encoding/json writes the shortest float32 text, read back as float64.
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(t), 'g', -1, 32), 64)
		return numV(f)
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return value{k: kErr, ctx: true, s: "context number " + string(t) + " is not valid"}
		}
		return numV(f)
	}
	return slowFromAny(x)
}

// slowFromAny normalizes a context value of an unusual Go type (a struct,
// []string, time.Time, ...) the way flagd does: through JSON.
func slowFromAny(x any) value {
	n, err := normalize(x)
	if err != nil {
		return value{k: kErr, ctx: true, s: "context value cannot be encoded as JSON: " + err.Error()}
	}
	return fromAny(n)
}

func normalize(x any) (any, error) {
	b, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	var n any
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, err
	}
	return n, nil
}

// toAny converts v back to a JSON value, for the arrays that operations
// such as merge, map and filter build.
func toAny(v value) any {
	switch v.k {
	case kBool:
		return v.b
	case kNum:
		return v.n
	case kStr:
		return v.s
	case kArr:
		if v.a == nil {
			return emptyArrAny
		}
		return v.a
	case kObj:
		if v.a == nil {
			return emptyObjAny
		}
		return v.a
	}
	return nil
}

// length of an array, object or string value.
func (v value) length() int {
	switch v.k {
	case kStr:
		return len(v.s)
	case kArr:
		if v.a == nil {
			return 0
		}
		return len(v.a.([]any))
	case kObj:
		if v.a == nil {
			return 0
		}
		return len(v.a.(map[string]any))
	}
	return 0
}

// truthy is typing.IsTrue: false, 0, "", [], {} and null are false. NaN is
// true there (unlike JavaScript), because the library tests n != 0.
func truthy(v value) bool {
	switch v.k {
	case kBool:
		return v.b
	case kNum:
		return v.n != 0
	case kStr, kArr, kObj:
		return v.length() > 0
	}
	return false
}

// jsNumber is the library's javascript.ToNumber, used by comparisons: null
// is 0, booleans are 0/1, blank strings 0, unparsable strings, arrays and
// objects NaN.
func jsNumber(v value) float64 {
	switch v.k {
	case kNull:
		return 0
	case kNum:
		return v.n
	case kBool:
		if v.b {
			return 1
		}
		return 0
	case kStr:
		if strings.TrimSpace(v.s) == "" {
			return 0
		}
		n, err := strconv.ParseFloat(v.s, 64)
		if err != nil {
			// The library compares err with strconv.ErrRange, which a
			// *NumError never equals: out-of-range text is NaN too.
			return math.NaN()
		}
		return n
	}
	return math.NaN()
}

// typNumber is the library's typing.ToNumber, used by arithmetic: strings
// parse (unparsable text is 0), numbers pass, and anything else makes the
// library panic (ok=false).
func typNumber(v value) (float64, bool) {
	switch v.k {
	case kNum:
		return v.n, true
	case kStr:
		n, _ := strconv.ParseFloat(v.s, 64)
		return n, true
	}
	return 0, false
}

// typString is the library's typing.ToString: numbers format without an
// exponent, null is "", and booleans, arrays and objects panic (ok=false).
func typString(v value) (string, bool) {
	switch v.k {
	case kStr:
		return v.s, true
	case kNum:
		return strconv.FormatFloat(v.n, 'f', -1, 64), true
	case kNull:
		return "", true
	}
	return "", false
}

// kindName names a kind in error messages.
func (k kind) String() string {
	switch k {
	case kNull:
		return "null"
	case kBool:
		return "boolean"
	case kNum:
		return "number"
	case kStr:
		return "string"
	case kArr:
		return "array"
	case kObj:
		return "object"
	}
	return "error"
}

// goInt converts like Go's int(f) does on amd64, where flagd runs: NaN and
// values out of range become math.MinInt64.
func goInt(f float64) int {
	if f != f || f >= 9.223372036854775807e18 || f < -9.223372036854775808e18 {
		return math.MinInt64
	}
	return int(f)
}

// jsonNumberText formats n as encoding/json does, which is how flagd turns
// a numeric targeting result into a variant name.
func jsonNumberText(n float64) string {
	abs := math.Abs(n)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	s := strconv.FormatFloat(n, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(s); n >= 4 && s[n-4] == 'e' && s[n-3] == '-' && s[n-2] == '0' {
			s = s[:n-2] + s[n-1:]
		}
	}
	return s
}
