package termchart

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Progress draws a one-line progress bar on a terminal, and nothing
// elsewhere (a log file would fill with redrawn lines). Set the fields,
// then call Draw as work is done and Clear before writing anything else.
type Progress struct {
	W     io.Writer
	TTY   bool  // draw at all: IsTerminal(W)
	Total int64 // of the bar; 0 or less: a counter without a bar
	Start time.Time
	Label string // before the bar, if any
	Unit  string // what is counted; "events" when empty
	Base  int    // counted before Start: not in the rate
	// Cols is the width of the terminal (Width(W)); 0 is 80. The line is
	// kept narrower: wrapped, a redraw would only go back to the start of
	// its last line and leave the others behind.
	Cols int

	last  time.Time
	drawn int // cells of the widest line drawn since the last Clear
}

// Draw shows done of Total and the count with its rate, at most ten times
// a second.
func (p *Progress) Draw(done int64, count int) {
	if !p.TTY || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	rate := ""
	if el := time.Since(p.Start); el >= 500*time.Millisecond {
		rate = fmt.Sprintf(" %.0f/s", float64(count-p.Base)/el.Seconds())
	}
	unit := p.Unit
	if unit == "" {
		unit = "events"
	}
	label := ""
	if p.Label != "" {
		label = p.Label + " "
	}
	room := p.cols() - 1 // the cursor's cell after the line, lest the terminal wrap
	var line string
	if p.Total > 0 {
		frac := min(float64(done)/float64(p.Total), 1)
		after := fmt.Sprintf(" %3.0f%% %d %s%s ", frac*100, count, unit, rate)
		line = label + strings.TrimPrefix(after, " ")
		// The bar takes what room is left, 30 cells at most, or none
		// below 10.
		if w := min(30, room-Cells(label)-2-Cells(after)); w >= 10 {
			n := int(frac * float64(w))
			line = label + "[" + strings.Repeat("=", n) + strings.Repeat(" ", w-n) + "]" + after
		}
	} else {
		line = fmt.Sprintf("%s%d %s%s ", label, count, unit, rate)
	}
	line = Prefix(line, max(room, 0))
	fmt.Fprintf(p.W, "\r%s", line)
	p.drawn = max(p.drawn, Cells(line))
}

func (p *Progress) cols() int {
	if p.Cols > 0 {
		return p.Cols
	}
	return 80
}

// Clear erases the lines drawn, if any.
func (p *Progress) Clear() {
	if p.drawn > 0 {
		fmt.Fprintf(p.W, "\r%s\r", strings.Repeat(" ", p.drawn))
		p.drawn = 0
	}
}

// Width is the width of the terminal w is, in cells: COLUMNS when it is a
// positive number, else what the terminal says, else 80.
func Width(w io.Writer, getenv func(string) string) int {
	if n := columns(getenv); n > 0 {
		return n
	}
	if f, ok := w.(*os.File); ok {
		if n := terminalWidth(f); n > 0 {
			return n
		}
	}
	return 80
}

// OutputWidth is the width output to w should fit in: Width on a
// terminal; on a file or a pipe COLUMNS when it is a positive number, else
// 0 (no limit), since nothing wraps there.
func OutputWidth(w io.Writer, getenv func(string) string) int {
	if IsTerminal(w) {
		return Width(w, getenv)
	}
	return columns(getenv)
}

// columns is COLUMNS when it is a positive number, else 0.
func columns(getenv func(string) string) int {
	if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 0
}

// IsTerminal reports whether w is a character device, a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
