package valueloop

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// CheckControl checks a text a person wrote (a title, a hypothesis, a
// reason): required and at most max bytes, and no control character that
// refused reports. Texts reach terminals and files through every client,
// where an escape sequence in one would clear or retitle the reader's
// terminal (and a bell ring it); the error names the field, the character
// and its byte.
func CheckControl(field, s string, required bool, max int, refused func(rune) bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return FieldErrorf(field, "required")
	case len(s) > max:
		return FieldErrorf(field, "must be at most %d bytes long, got %d", max, len(s))
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && refused(r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return FieldErrorf(field, "must not hold control character %U at byte %d", r, i+1)
	}
	return nil
}

// CheckLine checks an optional text printed on one line (a name, a
// reason): no control characters at all, not even a line break or a tab.
func CheckLine(field, s string) error {
	return CheckControl(field, s, false, len(s), func(rune) bool { return true })
}
