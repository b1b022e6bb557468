//go:build !unix

package termchart

import "os"

// terminalWidth is 0, unknown, where the terminal is not asked.
func terminalWidth(*os.File) int { return 0 }
