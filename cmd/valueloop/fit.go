package main

import (
	"strings"

	"github.com/valueloop/valueloop/termchart"
)

// outputWidth is the width tables on standard output should fit in
// (termchart.OutputWidth): 0, no limit, on a file or a pipe without
// COLUMNS.
func outputWidth(e *cliEnv) int { return termchart.OutputWidth(e.dataOut(), e.getenv) }

// minChart is the narrowest chart worth drawing: narrower, a table that
// does not fit draws its chart apart, below it (chartBlock).
const minChart = 11

// chartBlock is a table's chart drawn apart from the table, for a terminal
// too narrow for both on one line: a head line with the title over the
// labels and the axis over the charts, then one line per charted row with
// its label, all the charts on the one axis.
type chartBlock struct {
	title string
	axis  func(width int) string
	rows  []chartRow
}

// chartRow is one row of a chartBlock: its label and its chart at a width.
type chartRow struct {
	label string
	chart func(width int) string
}

// fitChart renders a table with a chart column widest cells wide, and, when
// its widest line does not fit in cols (0: no limit), renders it again with
// the chart narrowed by the excess (kept odd, so that a middle cell
// exists). Below minChart cells it renders the table without the chart
// (width 0), which keeps its figures whole, and draws the chart under it as
// block, up to widest cells wide: a chart is never left out, unless not
// even the block fits. Lines lose the trailing blanks of empty cells, which
// would wrap too. It returns the table and the chart's width.
func fitChart(cols, widest int, render func(width int) string, block chartBlock) (string, int) {
	out := trimLines(render(widest))
	if cols <= 0 {
		return out, widest
	}
	over := 0
	for line := range strings.SplitSeq(out, "\n") {
		over = max(over, termchart.Cells(line)-cols)
	}
	if over <= 0 {
		return out, widest
	}
	width := odd(widest - over)
	if width >= minChart {
		return trimLines(render(width)), width
	}
	chart, width := block.draw(cols, widest)
	return trimLines(render(0)) + chart, width
}

// draw writes the block in cols cells, its charts up to widest cells wide,
// after a blank line; nothing when there is no row or a chart would be
// narrower than minChart. It returns the block and the charts' width.
func (b chartBlock) draw(cols, widest int) (string, int) {
	labels := termchart.Cells(b.title)
	for _, r := range b.rows {
		labels = max(labels, termchart.Cells(r.label))
	}
	width := odd(min(widest, cols-len("  ")-labels-len("  ")))
	if len(b.rows) == 0 || width < minChart {
		return "", 0
	}
	var s strings.Builder
	line := func(label, chart string) {
		s.WriteString("  " + label + strings.Repeat(" ", labels-termchart.Cells(label)) + "  " + chart + "\n")
	}
	s.WriteString("\n")
	line(b.title, b.axis(width))
	for _, r := range b.rows {
		line(r.label, r.chart(width))
	}
	return trimLines(s.String()), width
}

// odd is n, or n-1 when n is even: a chart with a middle cell.
func odd(n int) int {
	if n%2 == 0 {
		return n - 1
	}
	return n
}

func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
