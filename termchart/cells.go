package termchart

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// RuneCells is the number of terminal cells r takes: 2 for East Asian
// Wide and Fullwidth characters (CJK, most emoji), 0 for combining marks,
// format characters (a zero-width joiner, a variation selector), line
// breaks and tabs (laid out by the caller), and skin-tone modifiers
// (drawn into the emoji before them), else 1. Another control character
// takes the cells of its escape (\x1b: 4, \u009b: 6), which is what the
// CLI prints for it (cmd/valueloop's textWriter): counted as nothing, it
// let a line run past the terminal. Ambiguous-width characters count 1,
// as terminals outside East Asian locales draw them. The table is
// golang.org/x/text's (already a dependency), not one of our own, so new
// emoji follow an upgrade of it.
func RuneCells(r rune) int {
	switch {
	case r == '\n' || r == '\t':
		return 0
	case r < 0x20 || r == 0x7F:
		return len(`\x1b`)
	case r >= 0x80 && r < 0xA0:
		return len(`\u009b`)
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf), r >= 0x1F3FB && r <= 0x1F3FF:
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// Cells is the number of terminal cells s takes on one line: what a
// table or a line must count to fit a width, where counting runes
// overflows it with every wide character.
func Cells(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c, size := cellsAt(s, i)
		n += c
		i += size
	}
	return n
}

// cellsAt is the cells and the bytes of the character at s[i]; a byte
// that is not UTF-8 takes the cells of its escape (\xff), as the CLI
// prints it.
func cellsAt(s string, i int) (cells, size int) {
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size == 1 {
		return len(`\xff`), 1
	}
	return RuneCells(r), size
}

// Prefix is the longest start of s that takes at most cols cells, with
// the combining marks that follow its last character.
func Prefix(s string, cols int) string {
	n := 0
	for i := 0; i < len(s); {
		c, size := cellsAt(s, i)
		if n += c; n > cols {
			return s[:i]
		}
		i += size
	}
	return s
}

// Cut is s when it takes at most cols cells, else its start and "…",
// together cols cells at most (nothing when cols is 0).
func Cut(s string, cols int) string {
	switch {
	case Cells(s) <= cols:
		return s
	case cols <= 0:
		return ""
	}
	return Prefix(s, max(cols-1, 0)) + "…"
}

// Pad is s followed by the spaces that make it cols cells wide.
func Pad(s string, cols int) string {
	return s + strings.Repeat(" ", max(cols-Cells(s), 0))
}
