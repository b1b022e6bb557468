package evaluation

import (
	"fmt"
	"math"
)

// Typed resolution with OpenFeature semantics: a value of the expected type
// is returned; no value (Result.Value nil) returns def with the result
// unchanged; a value of another type returns def and turns the result into
// an ERROR with TYPE_MISMATCH.

// ResolveBool resolves r as a boolean flag.
func ResolveBool(r Result, def bool) (bool, Result) {
	switch v := r.Value.(type) {
	case nil:
		return def, r
	case bool:
		return v, r
	}
	return def, mismatch(r, "boolean")
}

// ResolveString resolves r as a string flag.
func ResolveString(r Result, def string) (string, Result) {
	switch v := r.Value.(type) {
	case nil:
		return def, r
	case string:
		return v, r
	}
	return def, mismatch(r, "string")
}

// ResolveFloat resolves r as a number flag.
func ResolveFloat(r Result, def float64) (float64, Result) {
	switch v := r.Value.(type) {
	case nil:
		return def, r
	case float64:
		return v, r
	}
	return def, mismatch(r, "number")
}

// ResolveInt resolves r as an integer flag. Like flagd, it truncates a
// fractional number toward zero; numbers beyond the int64 range are a type
// mismatch.
func ResolveInt(r Result, def int64) (int64, Result) {
	switch v := r.Value.(type) {
	case nil:
		return def, r
	case float64:
		if v >= -math.MaxInt64-1 && v < math.MaxInt64 {
			return int64(v), r
		}
	}
	return def, mismatch(r, "integer")
}

// ResolveObject resolves r as an object flag (a JSON object or array).
func ResolveObject(r Result, def any) (any, Result) {
	switch r.Value.(type) {
	case nil:
		return def, r
	case map[string]any, []any:
		return r.Value, r
	}
	return def, mismatch(r, "object")
}

func mismatch(r Result, want string) Result {
	got := "a " + fromAny(r.Value).k.String()
	r.ErrorMessage = fmt.Sprintf("flag %q is %s, not %s", r.FlagKey, got, article(want))
	r.Value, r.Variant = nil, ""
	r.Reason, r.ErrorCode = ReasonError, TypeMismatch
	return r
}

func article(s string) string {
	switch s[0] {
	case 'a', 'e', 'i', 'o', 'u':
		return "an " + s
	}
	return "a " + s
}
