package valueloop

import (
	"strconv"
	"strings"
)

// GroupDigits writes n with thousands separators: 12,345. It lives here,
// in the package every other imports, so that the domain's sentences
// (rollout waits, verdicts, next actions) and the terminal's figures group
// counts one way; termchart is for drawing and the domain does not import it.
func GroupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	digits := strings.TrimPrefix(s, "-")
	var b strings.Builder
	b.WriteString(s[:len(s)-len(digits)])
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Count writes n and noun, plural unless n is one: "1 user", "12,345
// users", "1 more user". Every noun counted is regular: an s makes it
// plural.
func Count(n int64, noun string) string {
	if n == 1 {
		return GroupDigits(n) + " " + noun
	}
	return GroupDigits(n) + " " + noun + "s"
}
