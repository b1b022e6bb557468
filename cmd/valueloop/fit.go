package main

import (
	"strings"
	"unicode/utf8"

	"github.com/valueloop/valueloop/termchart"
)

// outputWidth is the width tables on standard output should fit in
// (termchart.OutputWidth): 0, no limit, on a file or a pipe without
// COLUMNS.
func outputWidth(e *cliEnv) int { return termchart.OutputWidth(e.dataOut(), e.getenv) }

// minChart is the narrowest chart worth drawing: narrower, a table that
// does not fit leaves its chart out.
const minChart = 11

// fitChart renders a table with a chart column widest cells wide, and, when
// its widest line does not fit in cols (0: no limit), renders it again with
// the chart narrowed by the excess (kept odd, so that a middle cell
// exists), or left out (width 0) below minChart cells. The other columns
// keep their figures. Lines lose the trailing blanks of empty cells, which
// would wrap too. It returns the table and the chart's width.
func fitChart(cols, widest int, render func(width int) string) (string, int) {
	out := trimLines(render(widest))
	if cols <= 0 {
		return out, widest
	}
	over := 0
	for line := range strings.SplitSeq(out, "\n") {
		over = max(over, utf8.RuneCountInString(line)-cols)
	}
	if over <= 0 {
		return out, widest
	}
	width := widest - over
	if width%2 == 0 {
		width--
	}
	if width < minChart {
		width = 0
	}
	return trimLines(render(width)), width
}

func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
