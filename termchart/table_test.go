package termchart

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
)

// viaTabwriter is what the CLI drew its tables with before Table.
func viaTabwriter(t *testing.T, text string) string {
	t.Helper()
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	tw.Write([]byte(text))
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func viaTable(t *testing.T, text string) string {
	t.Helper()
	var b strings.Builder
	tw := NewTable(&b)
	// Written in pieces, as fmt.Fprintf calls do: a line may come in parts.
	for len(text) > 0 {
		n := min(len(text), 3)
		tw.Write([]byte(text[:n]))
		text = text[n:]
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestTableASCIILikeTabwriter: for ASCII text a Table writes what
// tabwriter wrote, byte for byte, blocks of columns, empty cells, lines
// ending in a tab and a last line without newline included.
func TestTableASCIILikeTabwriter(t *testing.T) {
	cases := []string{
		"",
		"\n",
		"no tabs\n",
		"KEY\tSTATE\tVERSION\ncheckout-flow\tENABLED\t3\nx\tDISABLED\t12\n",
		"a\tb\tc\n\nlonger cell\tb\tc\n",
		"  title\n  a\tbb\tccc\n  dddd\te\n  f\n  g\th\ti\n",
		"  VARIANT\tUSERS\tLIFT\n  control\t10\tbaseline\t\t\t\n  treatment\t9\t\t\t\t\n",
		"head\tx\nno newline at the end\tlast",
		"\t\t\n\t\t\n",
		"a\t\tc\nlong long\t\tc\n",
	}
	for _, text := range cases {
		if got, want := viaTable(t, text), viaTabwriter(t, text); got != want {
			t.Errorf("%q:\ngot  %q\nwant %q", text, got, want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := "ab c\t\t\n"
	for range 2000 {
		var b strings.Builder
		for range r.IntN(40) {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		text := b.String()
		if got, want := viaTable(t, text), viaTabwriter(t, text); got != want {
			t.Fatalf("%q:\ngot  %q\nwant %q", text, got, want)
		}
	}
}

// columnStarts is the cell at which each of line's columns starts, the
// columns being separated by at least two spaces.
func columnStarts(line string) []int {
	var starts []int
	at, blanks := 0, 2
	for i := 0; i < len(line); {
		cells, size := cellsAt(line, i)
		if line[i] != ' ' && blanks >= 2 {
			starts = append(starts, at)
		}
		if line[i] == ' ' {
			blanks++
		} else {
			blanks = 0
		}
		at += cells
		i += size
	}
	return starts
}

// TestTableWideCells: columns line up on a terminal whatever the cells'
// widths: CJK and emoji take two cells, combining marks none.
func TestTableWideCells(t *testing.T) {
	cases := []struct {
		name string
		text string
		want string
	}{
		{"cjk", "KEY\tVARIANTS\tVERSION\n中文\tcontrol,中文\t3\nascii\ta\t12\n",
			"KEY    VARIANTS      VERSION\n中文   control,中文  3\nascii  a             12\n"},
		{"emoji", "🚀 launch\ton\t1\nplain\toff\t2\n",
			"🚀 launch  on   1\nplain      off  2\n"},
		{"combining", "cafe\u0301\tx\tend\ncafe\tyy\tend\n",
			"cafe\u0301  x   end\ncafe  yy  end\n"},
		{"mixed", "a中b😀c\tx\n全角ＡＢ\ty\nascii\tz\n",
			"a中b😀c   x\n全角ＡＢ  y\nascii     z\n"},
		{"empty cell", "中文\t\tend\nab\t\tend\n",
			"中文    end\nab      end\n"},
		{"control", "a\x1bb\tx\nabcdef\ty\n", // as printed: a\x1bb
			"a\x1bb  x\nabcdef  y\n"},
		// A joined emoji, a flag and an emoji-presentation heart each
		// take the two cells of one emoji.
		{"clusters", "👩\u200d💻 dev\tx\n🇳🇿 nz\ty\n❤\ufe0f ok\tz\nplain\tw\n",
			"👩\u200d💻 dev  x\n🇳🇿 nz   y\n❤\ufe0f ok   z\nplain   w\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := viaTable(t, c.text)
			if got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
			var first []int
			for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
				starts := columnStarts(line)
				if first == nil {
					first = starts
				}
				if len(starts) == len(first) && !slices.Equal(starts, first) {
					t.Errorf("line %q: columns start at cells %v, the first line's at %v", line, starts, first)
				}
			}
		})
	}
}
