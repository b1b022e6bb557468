package stats

import (
	"math"
	"strings"
	"testing"
)

// A metric whose control mean is negative (profit, a net change): the
// relative effect is (t − c)/|c|, so an increase reads as an increase.
func TestRelativeNegativeControl(t *testing.T) {
	for _, tc := range []struct {
		name         string
		control, trt float64
		want         float64
	}{
		{"negative control, increase", -10, -5, 0.5},
		{"negative control, decrease", -10, -12, -0.2},
		{"negative control, crossing zero", -10, 2, 1.2},
		{"positive control, increase", 10, 12, 0.2},
		{"positive control, decrease", 10, 5, -0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := analyzeTwo(t, fixedSettings(0.05, TwoSided), Mean, meanSummary(400, tc.control, 2), meanSummary(400, tc.trt, 2))
			if c.Relative == nil {
				t.Fatal("no relative effect")
			}
			if math.Abs(c.Relative.Estimate-tc.want) > 1e-12 {
				t.Errorf("relative = %v, want %v", c.Relative.Estimate, tc.want)
			}
			if math.Signbit(c.Relative.Estimate) != math.Signbit(c.Absolute.Estimate) {
				t.Errorf("relative %v and absolute %v point different ways", c.Relative.Estimate, c.Absolute.Estimate)
			}
			if !(c.Relative.SE > 0) || c.Relative.Interval.Lower > c.Relative.Estimate || c.Relative.Interval.Upper < c.Relative.Estimate {
				t.Errorf("relative interval %v around %v (se %v)", c.Relative.Interval, c.Relative.Estimate, c.Relative.SE)
			}
		})
	}
}

// A control mean that cannot be told apart from zero makes any relative
// figure meaningless: the comparison says so.
func TestRelativeNearZeroControlNote(t *testing.T) {
	near := analyzeTwo(t, fixedSettings(0.05, TwoSided), Mean, meanSummary(100, 0.1, 5), meanSummary(100, 2, 5))
	if near.Relative == nil || !strings.Contains(near.Relative.Note, "zero") {
		t.Errorf("control 0.1 ± 0.5: relative %+v, want a note about the control mean near zero", near.Relative)
	}
	far := analyzeTwo(t, fixedSettings(0.05, TwoSided), Mean, meanSummary(100, 10, 5), meanSummary(100, 12, 5))
	if far.Relative == nil || far.Relative.Note != "" {
		t.Errorf("control 10 ± 0.5: relative %+v, want no note", far.Relative)
	}
}
