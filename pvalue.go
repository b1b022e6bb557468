package valueloop

import (
	"fmt"
	"math"
)

// FormatP writes a p-value as every view shows it: three decimals, or an
// exponent below 0.001 ("4e-05"), so that the CLI's table and the
// dashboard's agree to the character on the p the verdict reads.
func FormatP(p float64) string {
	if p < 0.001 {
		return fmt.Sprintf("%.0e", p)
	}
	return fmt.Sprintf("%.3f", p)
}

// FormatChance writes a probability as a percentage with one decimal, as
// every view shows a chance to win, but never 100% or 0% for one that is
// not exactly 1 or 0: 0.99996 is ">99.9%", not a certainty (rounded, it
// read "100%"), and 0.00004 "<0.1%".
func FormatChance(p float64) string {
	v := math.Round(p * 1000)
	switch {
	case v >= 1000 && p < 1:
		return ">99.9%"
	case v <= 0 && p > 0:
		return "<0.1%"
	}
	return fmt.Sprintf("%.1f%%", v/10)
}
