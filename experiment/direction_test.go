package experiment

import (
	"math"
	"testing"
)

// TestSplitSigned: a signed move splits into a non-negative size and its
// direction (−0 is no decrease), and Sign turns them back.
func TestSplitSigned(t *testing.T) {
	for _, tc := range []struct {
		x    float64
		size float64
		d    Direction
	}{
		{0.05, 0.05, Increase},
		{-0.05, 0.05, Decrease},
		{0, 0, Increase},
		{math.Copysign(0, -1), 0, Increase},
		{-3, 3, Decrease},
	} {
		size, d := SplitSigned(tc.x)
		if size != tc.size || math.Signbit(size) || d != tc.d {
			t.Errorf("SplitSigned(%v) = %v, %s; want %v, %s", tc.x, size, d, tc.size, tc.d)
		}
		if back := d.Sign() * size; back != tc.x {
			t.Errorf("SplitSigned(%v): Sign × size = %v, want it back", tc.x, back)
		}
	}
	if s := Direction("").Sign(); s != 1 {
		t.Errorf("no direction: Sign = %v, want +1", s)
	}
}
