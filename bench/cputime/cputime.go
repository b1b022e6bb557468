// Package cputime reads the CPU time this process has used. Benchmarks and
// load tests report work per CPU second beside work per second: on a
// machine shared with other work, only the former is comparable between
// runs. It has no dependencies, so that any package's tests may use it.
package cputime

import (
	"os"
	"strconv"
	"strings"
)

// Seconds returns the CPU seconds (user and system) this process used,
// from /proc/self/stat; -1 where there is none.
func Seconds() float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return -1
	}
	// Fields after the command name (which may hold spaces) in parentheses:
	// utime and stime are the 12th and 13th, in clock ticks (100 a second).
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return (ut + st) / 100
}
