package valueloop

import "fmt"

// FormatP writes a p-value as every view shows it: three decimals, or an
// exponent below 0.001 ("4e-05"), so that the CLI's table and the
// dashboard's agree to the character on the p the verdict reads.
func FormatP(p float64) string {
	if p < 0.001 {
		return fmt.Sprintf("%.0e", p)
	}
	return fmt.Sprintf("%.3f", p)
}
