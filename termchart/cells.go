package termchart

import (
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// RuneCells is the number of terminal cells r takes: 2 for East Asian
// Wide and Fullwidth characters (CJK, most emoji), 0 for combining marks,
// format characters (a zero-width joiner, a variation selector) and
// controls, and skin-tone modifiers (drawn into the emoji before them),
// else 1. Ambiguous-width characters count 1, as terminals
// outside East Asian locales draw them. The table is golang.org/x/text's
// (already a dependency), not one of our own, so new emoji follow an
// upgrade of it.
func RuneCells(r rune) int {
	switch {
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Cc), r >= 0x1F3FB && r <= 0x1F3FF:
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
	for _, r := range s {
		n += RuneCells(r)
	}
	return n
}

// Prefix is the longest start of s that takes at most cols cells, with
// the combining marks that follow its last character.
func Prefix(s string, cols int) string {
	n := 0
	for i, r := range s {
		if n += RuneCells(r); n > cols {
			return s[:i]
		}
	}
	return s
}

// Cut is s when it takes at most cols cells, else its start and "…",
// together cols cells at most.
func Cut(s string, cols int) string {
	if Cells(s) <= cols {
		return s
	}
	return Prefix(s, max(cols-1, 0)) + "…"
}

// Pad is s followed by the spaces that make it cols cells wide.
func Pad(s string, cols int) string {
	return s + strings.Repeat(" ", max(cols-Cells(s), 0))
}
