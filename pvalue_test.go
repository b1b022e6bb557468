package valueloop

import "testing"

// TestFormatChance: a chance is a certainty only when it is one: 0.9996
// rounded to one decimal read 100%.
func TestFormatChance(t *testing.T) {
	for _, tc := range []struct {
		p    float64
		want string
	}{
		{1, "100.0%"}, {0.99996, ">99.9%"}, {0.9995, ">99.9%"}, {0.99949, "99.9%"}, {0.5, "50.0%"},
		{0.00051, "0.1%"}, {0.0004, "<0.1%"}, {1e-9, "<0.1%"}, {0, "0.0%"},
	} {
		if got := FormatChance(tc.p); got != tc.want {
			t.Errorf("FormatChance(%v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}
