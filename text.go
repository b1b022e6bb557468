package valueloop

import (
	"fmt"
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
	if i := strings.IndexFunc(s, Bidi); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return FieldErrorf(field, "must not hold bidirectional control character %U at byte %d: it reorders what a terminal shows", r, i+1)
	}
	return nil
}

// Bidi reports whether r is a bidirectional embedding, override or
// isolate (U+202A–U+202E, U+2066–U+2069). They are no control characters
// to unicode.IsControl (they are formats, Cf), yet a terminal or a page
// shows the text after one reordered until its end: "ab\u202Edc" reads
// "abcd" (the "Trojan Source" trick), so that a title or a reason reads
// otherwise than it is. Every text CheckControl checks refuses them; the
// marks that only set the direction of one place (U+200E, U+200F, U+061C),
// which right-to-left text needs, stay.
func Bidi(r rune) bool { return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 }

// CheckLine checks an optional text printed on one line (a name, a
// reason): no control characters at all, not even a line break or a tab.
func CheckLine(field, s string) error {
	return CheckControl(field, s, false, len(s), func(rune) bool { return true })
}

// MaxReason is the longest reason, in bytes, that a change may carry (of a
// flag, through the API's Valueloop-Reason header or the dashboard; of a
// rollout, started or acted on): one line of the history and the audit
// trail, read in lists and chat messages, not a document.
const MaxReason = 1000

// CheckReason checks the reason a person gave for a change: optional, one
// line (no control character, as CheckLine) and at most MaxReason bytes.
// Every surface that takes a reason checks it here.
func CheckReason(field, s string) error {
	return CheckControl(field, s, false, MaxReason, func(rune) bool { return true })
}

// FitReason makes a reason the program composed (the rollout engine's,
// quoting names, figures and error messages) one CheckReason accepts:
// control characters become spaces, and beyond MaxReason bytes it is cut,
// the cut marked with an ellipsis. The program's own decisions are
// recorded whatever their text, never refused for it.
func FitReason(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || Bidi(r) {
			return ' '
		}
		return r
	}, s)
	return clipTo(s, MaxReason-len("…"))
}

// ListFirst lists the first n items for a message, joined by commas, and
// counts the others: "a, b, c and 2 more".
func ListFirst(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}
