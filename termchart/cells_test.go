package termchart

import "testing"

// TestCells: a width is counted in terminal cells, not runes: wide
// characters (CJK, emoji) take two, combining marks none; and a cut line
// keeps within the width with them.
func TestCells(t *testing.T) {
	for _, c := range []struct {
		s     string
		cells int
		cut6  string
	}{
		{"checkout", 8, "check…"},
		{"café", 4, "café"},
		{"cafe\u0301s", 5, "cafe\u0301s"}, // e + combining acute
		{"結帳の流れ", 10, "結帳…"},
		{"🚀 launch", 9, "🚀 la…"},
		{"ＡＢＣ", 6, "ＡＢＣ"},   // fullwidth
		{"👍🏽ok", 4, "👍🏽ok"}, // skin tone: part of the emoji
		{"👍🏽👍🏽👍🏽", 6, "👍🏽👍🏽👍🏽"},
		{"👍🏽👍🏽👍🏽👍🏽", 8, "👍🏽👍🏽…"},
		// Controls and bytes that are not UTF-8 take the cells of the
		// escapes the CLI prints for them: \x1b, \u009b, \xff.
		{"a\x1bb", 6, "a\x1bb"},
		{"\x1b[2J", 7, "\x1b[…"},
		{"\u009bx", 7, "…"},
		{"ab\xffcd", 8, "ab…"},
		{"a\tb", 2, "a\tb"}, // laid out by the caller
	} {
		if got := Cells(c.s); got != c.cells {
			t.Errorf("Cells(%q) = %d, want %d", c.s, got, c.cells)
		}
		got := Cut(c.s, 6)
		if got != c.cut6 || Cells(got) > 6 {
			t.Errorf("Cut(%q, 6) = %q (%d cells), want %q", c.s, got, Cells(got), c.cut6)
		}
	}
	if got := Cut("checkout", 0); got != "" {
		t.Errorf("Cut(checkout, 0) = %q, want nothing", got)
	}
}
