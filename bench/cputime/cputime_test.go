package cputime_test

import (
	"os"
	"testing"

	"github.com/valueloop/valueloop/bench/cputime"
)

// TestSecondsGrows burns some CPU and checks that the figure grows, where
// the system has /proc.
func TestSecondsGrows(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		if got := cputime.Seconds(); got != -1 {
			t.Fatalf("Seconds() = %v without /proc, want -1", got)
		}
		t.Skip("no /proc on this system")
	}
	before := cputime.Seconds()
	if before < 0 {
		t.Fatalf("Seconds() = %v, want a time", before)
	}
	x := 0
	for after := before; after <= before; after = cputime.Seconds() {
		for i := range 10_000_000 {
			x += i
		}
	}
	_ = x
}

// TestUsedGrows: Used grows as the process works, where the system says.
func TestUsedGrows(t *testing.T) {
	before := cputime.Used()
	if before == 0 {
		t.Skip("no getrusage on this system")
	}
	x := 0
	for after := before; after <= before; after = cputime.Used() {
		for i := range 1_000_000 {
			x += i
		}
	}
	_ = x
}
