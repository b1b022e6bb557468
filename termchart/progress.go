package termchart

import (
	"fmt"
	"io"
	"os"
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

	last  time.Time
	drawn bool
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
	if p.Total > 0 {
		frac := min(float64(done)/float64(p.Total), 1)
		n := int(frac * 30)
		fmt.Fprintf(p.W, "\r%s[%s%s] %3.0f%% %d %s%s ", label, strings.Repeat("=", n), strings.Repeat(" ", 30-n), frac*100, count, unit, rate)
	} else {
		fmt.Fprintf(p.W, "\r%s%d %s%s ", label, count, unit, rate)
	}
	p.drawn = true
}

// Clear erases the line drawn, if any.
func (p *Progress) Clear() {
	if p.drawn {
		fmt.Fprintf(p.W, "\r%s\r", strings.Repeat(" ", 90))
		p.drawn = false
	}
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
