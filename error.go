package valueloop

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Error kinds. Each maps to exactly one HTTP status in the HTTP layer and to
// one CLI exit code; the message of an *Error is safe to show to users.
const (
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	ECONFLICT     = "conflict"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	EMETHOD       = "method_not_allowed" // the path is served, not with this method
	ETOOLARGE     = "too_large"
	EUNSUPPORTED  = "unsupported_media_type"
	ETIMEOUT      = "timeout"     // the request (its body) did not arrive in time
	ETOOMANY      = "too_many"    // this client sent too many (failed) requests; retry later
	EUNAVAILABLE  = "unavailable" // the server is at a limit now; retry later
	EINTERNAL     = "internal"
)

// Error is an application error whose Message is meant for the user. Wrap
// lower-level causes with fmt.Errorf("...: %w", err) instead: only *Error values
// reach users verbatim, everything else is reported as an internal error.
type Error struct {
	Code    string
	Message string
	// Field names the offending input (a JSON path or a parameter name) when
	// there is one.
	Field string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("valueloop: %s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("valueloop: %s: %s", e.Code, e.Message)
}

// Errorf returns an *Error of the given kind.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an *Error of kind EINVALID that names the field at fault.
func FieldErrorf(field string, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Clip cuts s, a value of the input quoted back in a message, to its first
// 64 bytes (at a rune boundary) and marks the cut with "…": a value as long
// as a request body makes no message as long.
func Clip(s string) string { return clipTo(s, 64) }

// ClipKey is a key quoted in a field path: whole when no longer than a
// flag key may be (200 characters), else Clipped. A path names the key,
// and legitimate keys cut to 64 bytes made two flags alike in their first
// 64 one path; only a key no flag, variant or field has is cut.
func ClipKey(s string) string {
	if len(s) <= 4*maxKeyRunes && utf8.RuneCountInString(s) <= maxKeyRunes {
		return s
	}
	return Clip(s)
}

// maxKeyRunes is the longest flag key's length (flagKeyPattern).
const maxKeyRunes = 200

// ClipMessage cuts s, a message or field name that may quote input, to its
// first KiB, as Clip does: the last bound on what an error answer echoes,
// whichever of the many messages quoting input forgot to Clip its value.
func ClipMessage(s string) string { return clipTo(s, 1024) }

// clipTo cuts s after n bytes, dropping a character the cut split, and
// marks the cut with an ellipsis.
func clipTo(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}

// PrefixField returns err with prefix put before the field it names, when
// err is an *Error naming one: the error of a nested value reported by its
// parent ("features[2]." + "key"). Other errors come back as they are; err
// itself is not changed.
func PrefixField(prefix string, err error) error {
	if e, ok := err.(*Error); ok && e.Field != "" {
		c := *e
		c.Field = prefix + e.Field
		return &c
	}
	return err
}

// ErrorCode returns the kind of the first *Error in err's chain, EINTERNAL for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		// Before e is declared: errors.As moves e to the heap, and a nil
		// error (every authenticated request) should cost no allocation.
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the message of the first
// *Error in the chain, or a generic text that leaks nothing.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Field != "" {
			return e.Field + ": " + e.Message
		}
		return e.Message
	}
	return "internal error"
}
