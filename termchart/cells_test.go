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
		// Characters of several runes take the cells of one, as
		// terminals draw them, and a cut never splits one.
		{"e\u0301", 1, "e\u0301"},                                   // e + combining acute
		{"e\u0301\u0301\u0301tudes", 6, "e\u0301\u0301\u0301tudes"}, // stacked marks
		{"👩\u200d💻 dev", 6, "👩\u200d💻 dev"},                         // woman, joiner, laptop
		{"👩\u200d💻👩\u200d💻👩\u200d💻👩\u200d💻", 8, "👩\u200d💻👩\u200d💻…"},
		{"👩🏽\u200d💻", 2, "👩🏽\u200d💻"},                           // with a skin tone
		{"👨\u200d👩\u200d👧\u200d👦", 2, "👨\u200d👩\u200d👧\u200d👦"}, // family of four
		{"🏳\ufe0f\u200d🌈 x", 4, "🏳\ufe0f\u200d🌈 x"},             // rainbow flag: a one-cell base made an emoji
		{"🏃\u200d♂\ufe0f", 2, "🏃\u200d♂\ufe0f"},                 // joined to a one-cell sign
		{"🇳🇿", 2, "🇳🇿"},                                         // regional indicators: one flag
		{"🇳🇿🇳🇿🇳🇿🇳🇿", 8, "🇳🇿🇳🇿…"},
		{"🇳🇿🇳", 3, "🇳🇿🇳"}, // a lone indicator: one cell
		{"🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", 2, "🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"}, // Scotland: tags
		{"❤\ufe0f love", 7, "❤\ufe0f lo…"},            // variation selector 16: emoji, two cells
		{"❤ love", 6, "❤ love"},                       // without: text, one
		{"1\ufe0f\u20e3 one", 6, "1\ufe0f\u20e3 one"}, // keycap
		{"a\u200db", 2, "a\u200db"},                   // a joiner joins emoji, not letters
		{"👩\u200d", 2, "👩\u200d"},                     // nothing to join
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
