package termchart

import (
	"bytes"
	"io"
	"strings"
)

// tableGap is the blank cells between two columns of a Table.
const tableGap = 2

// Table lays out tab-separated lines in aligned columns, as
// text/tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) does, but measuring text in
// terminal cells (Cells) where tabwriter counts runes: a CJK name or an
// emoji, two cells each, would shift every column after it, and so would
// a control character, which the CLI prints as its escape (\x1b, four
// cells). Text written to it is buffered until Flush.
//
// The layout is tabwriter's, so ASCII tables come out byte for byte as
// before: a cell is text ended by a tab; the text after a line's last tab
// is no cell and is written as it is; a column's width is its widest cell
// plus two, over each run of adjacent lines that have a cell in it, so a
// line with fewer cells (a title, a blank line) starts new widths below
// it; cells are padded with spaces, the empty ones too, so a line ending
// in a tab keeps the blanks of its cells.
type Table struct {
	w   io.Writer
	buf bytes.Buffer
}

// NewTable is a Table writing to w on Flush.
func NewTable(w io.Writer) *Table { return &Table{w: w} }

// Write buffers p; it never fails.
func (t *Table) Write(p []byte) (int, error) { return t.buf.Write(p) }

// Flush writes the lines buffered so far in aligned columns, a last line
// without its newline as it came, and starts a new table.
func (t *Table) Flush() error {
	lines := strings.Split(t.buf.String(), "\n")
	t.buf.Reset()
	rows := make([][]string, len(lines))
	widths := make([][]int, len(lines))
	for i, l := range lines {
		rows[i] = strings.Split(l, "\t")
		widths[i] = make([]int, len(rows[i])-1)
	}
	// tabwriter ends an unfinished last line at its last non-empty cell: a
	// tab at its very end ends the text, not a cell to pad.
	if last := len(rows) - 1; len(rows[last]) > 1 && rows[last][len(rows[last])-1] == "" {
		rows[last] = rows[last][:len(rows[last])-1]
		widths[last] = widths[last][:len(widths[last])-1]
	}
	layout(rows, widths, 0, 0, len(rows))
	var out strings.Builder
	for i, cells := range rows {
		for j, c := range cells {
			if j == len(cells)-1 {
				out.WriteString(c)
				break
			}
			out.WriteString(Pad(c, widths[i][j]))
		}
		if i+1 < len(rows) {
			out.WriteByte('\n')
		}
	}
	_, err := io.WriteString(t.w, out.String())
	return err
}

// layout sets the width of column col, and of the columns right of it, in
// rows[lo:hi]: each run of adjacent rows with a cell in the column (more
// than col tab-ended cells) shares the width of its widest cell plus the
// gap, and its rows are laid out again from the next column, as
// tabwriter's format does.
func layout(rows [][]string, widths [][]int, col, lo, hi int) {
	for i := lo; i < hi; {
		if len(rows[i])-1 <= col {
			i++
			continue
		}
		end, width := i, 0
		for ; end < hi && len(rows[end])-1 > col; end++ {
			width = max(width, Cells(rows[end][col])+tableGap)
		}
		for k := i; k < end; k++ {
			widths[k][col] = width
		}
		layout(rows, widths, col+1, i, end)
		i = end
	}
}
