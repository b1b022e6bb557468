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
// overflows it with every wide character. It counts characters as
// terminals draw them, a cluster of runes at a time (see cellsAt): an
// emoji joined of several ("👩‍💻"), a flag ("🇳🇿") and a letter with
// its combining marks each take the cells of one.
func Cells(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c, size := cellsAt(s, i)
		n += c
		i += size
	}
	return n
}

// cellsAt is the cells and the bytes of the character at s[i], the
// cluster of runes a terminal draws as one, in the small part of
// Unicode's grapheme clusters (UAX #29) that decides widths:
//
//   - a base with the combining marks, format characters (emoji tags
//     included) and skin-tone modifiers that follow it, which take no
//     cells of their own;
//   - emoji joined by zero-width joiners (U+200D): the cells of the
//     widest, as the joined emoji is drawn as one ("👩‍💻" is 2, not 4);
//   - a variation selector 16 (U+FE0F, emoji presentation) makes a
//     one-cell base an emoji, two cells ("❤️", "1️⃣");
//   - two regional indicators are one flag, two cells ("🇳🇿").
//
// Counted rune by rune, a joined emoji took the cells of each of its
// parts and a table padded it short. A byte that is not UTF-8 takes the
// cells of its escape (\xff), as the CLI prints it, and a control
// character those of its own (RuneCells): each is a character of its own.
func cellsAt(s string, i int) (cells, size int) {
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size == 1 {
		return len(`\xff`), 1
	}
	cells = RuneCells(r)
	if r < 0x20 || r >= 0x7F && r < 0xA0 {
		return cells, size
	}
	if regionalIndicator(r) {
		if next, n := utf8.DecodeRuneInString(s[i+size:]); regionalIndicator(next) {
			return 2, size + n
		}
		return cells, size
	}
	pictographic := emoji(r)
	for i+size < len(s) {
		next, n := utf8.DecodeRuneInString(s[i+size:])
		switch {
		case next == zwj && pictographic:
			// The joiner and the emoji it joins: drawn as one, the
			// widest of them.
			size += n
			if joined, m := utf8.DecodeRuneInString(s[i+size:]); emoji(joined) {
				size += m
				cells = max(cells, RuneCells(joined))
			}
		case next == vs16:
			size += n
			cells = max(cells, 2)
			pictographic = true
		case extends(next):
			size += n
		default:
			return cells, size
		}
	}
	return cells, size
}

const (
	zwj  = '\u200D' // zero-width joiner
	vs16 = '\uFE0F' // variation selector 16: emoji presentation
)

// extends reports whether r is drawn into the character before it:
// combining marks, format characters (a joiner, a variation selector, an
// emoji tag) and skin-tone modifiers, which RuneCells counts 0.
func extends(r rune) bool {
	return r >= 0xA0 && RuneCells(r) == 0
}

func regionalIndicator(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

// emoji approximates Unicode's Extended_Pictographic, the characters a
// zero-width joiner joins into one emoji: the emoji planes and the
// symbol blocks emoji are drawn from (arrows, dingbats, miscellaneous
// symbols), and a few lone ones. Coarse where the blocks mix in other
// symbols: a joiner between two of those is no text's.
func emoji(r rune) bool {
	switch {
	case r >= 0x1F000 && r <= 0x1FAFF && !regionalIndicator(r) && (r < 0x1F3FB || r > 0x1F3FF),
		r >= 0x2190 && r <= 0x21FF, r >= 0x2300 && r <= 0x23FF, r >= 0x25A0 && r <= 0x27BF,
		r >= 0x2900 && r <= 0x297F, r >= 0x2B00 && r <= 0x2BFF:
		return true
	}
	switch r {
	case 0xA9, 0xAE, 0x203C, 0x2049, 0x2122, 0x2139, 0x24C2, 0x3030, 0x303D, 0x3297, 0x3299:
		return true
	}
	return false
}

// Prefix is the longest start of s that takes at most cols cells, with
// the combining marks that follow its last character: it never cuts into
// a character (see cellsAt), such as a joined emoji or a flag.
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
