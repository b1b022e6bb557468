//go:build unix

package termchart

import (
	"os"

	"golang.org/x/sys/unix"
)

// terminalWidth asks the terminal f is for its width; 0 if f is none.
func terminalWidth(f *os.File) int {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}
