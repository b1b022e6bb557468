package main

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestWrapSteps: a step line wider than the terminal breaks after an arrow,
// its lines indented under the first step and none wider than the
// terminal; without a width (a pipe) it stays one line.
func TestWrapSteps(t *testing.T) {
	const label = "  steps     "
	line := "●5% 1d ≥1,000 users → 25% 1d ≥2,000 users → 50% 1d ≥5,000 users → 100%"
	for _, tc := range []struct {
		cols int
		want string
	}{
		{0, line},
		{200, line},
		{80, "●5% 1d ≥1,000 users → 25% 1d ≥2,000 users → 50% 1d ≥5,000 users →\n" + strings.Repeat(" ", 12) + "100%"},
		{40, "●5% 1d ≥1,000 users →\n" + strings.Repeat(" ", 12) + "25% 1d ≥2,000 users →\n" + strings.Repeat(" ", 12) + "50% 1d ≥5,000 users → 100%"},
	} {
		got := wrapSteps(line, tc.cols, label)
		if got != tc.want {
			t.Errorf("cols %d:\n got %q\nwant %q", tc.cols, got, tc.want)
		}
		for i, l := range strings.Split(label+got, "\n") {
			if n := utf8.RuneCountInString(l); tc.cols > 0 && n > tc.cols {
				t.Errorf("cols %d: line %d is %d cells: %q", tc.cols, i, n, l)
			}
		}
	}
}
