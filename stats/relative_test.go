package stats

import (
	"math"
	"math/rand/v2"
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

// Every interval shown has the p-value of the same test: p < α exactly when
// the interval excludes 0, for the absolute and the relative scale, fixed
// horizon and sequential, every kind and alternative.
func TestOneTestPerInterval(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 2))
	cases := 0
	for _, kind := range []Kind{Mean, Proportion, Ratio} {
		for _, alt := range []Alternative{TwoSided, Greater, Less} {
			for _, alpha := range []float64{0.05, 0.01, 0.2} {
				for range 60 {
					n := int64(5 + r.IntN(3000))
					var k, tr Summary
					switch kind {
					case Proportion:
						pc := 0.02 + 0.5*r.Float64()
						pt := pc * (0.5 + r.Float64())
						k = proportion(int64(pc*float64(n)), n)
						tr = proportion(int64(pt*float64(n)), n)
					default:
						mc := 1 + 20*r.Float64()
						k = meanSummary(n, mc, 0.2+5*r.Float64())
						tr = meanSummary(n, mc*(0.6+0.8*r.Float64()), 0.2+5*r.Float64())
						if kind == Ratio {
							k.DenMean, k.DenM2 = 2, float64(n-1)
							tr.DenMean, tr.DenM2 = 2, float64(n-1)
							k.Mean, tr.Mean = 2*k.Mean, 2*tr.Mean
						}
					}
					s := fixedSettings(alpha, alt)
					c := analyzeTwo(t, s, kind, k, tr)
					if c.Status != OK || c.Relative == nil {
						continue
					}
					for _, e := range []struct {
						name string
						e    Effect
					}{{"absolute", c.Absolute}, {"relative", *c.Relative}} {
						for _, iv := range []struct {
							name string
							iv   Interval
							p    float64
						}{{"fixed", e.e.Interval, e.e.PValue}, {"sequential", e.e.Sequential, e.e.SequentialPValue}} {
							cases++
							if (iv.p < alpha) == iv.iv.Contains(0) {
								t.Errorf("%s %s α=%g %s %s: p = %v but interval %v (estimate %v)", kind, alt, alpha, e.name, iv.name, iv.p, iv.iv, e.e.Estimate)
							}
						}
					}
					if c.Absolute.PValue != c.PValue || c.Absolute.SequentialPValue != c.SequentialPValue {
						t.Errorf("comparison p-values %v/%v differ from the absolute effect's %v/%v", c.PValue, c.SequentialPValue, c.Absolute.PValue, c.Absolute.SequentialPValue)
					}
				}
			}
		}
	}
	if cases < 3000 {
		t.Errorf("only %d cases checked", cases)
	}
}

// A small-sample case of the kind GrowthBook's relative t-test vectors show:
// the absolute test's p is 0.02 while the relative delta-method interval
// includes 0. The relative scale has its own p-value, which agrees with it.
func TestRelativePValueGrowthBookVector(t *testing.T) {
	c := analyzeTwo(t, fixedSettings(0.05, TwoSided), Mean, meanSummary(10, 0.5, 0.3), meanSummary(10, 0.9, 0.4))
	if c.Relative == nil {
		t.Fatal("no relative effect")
	}
	if (c.Relative.PValue < 0.05) == c.Relative.Interval.Contains(0) {
		t.Errorf("relative p = %v, interval %v: disagree", c.Relative.PValue, c.Relative.Interval)
	}
}

func proportion(k, n int64) Summary {
	var s Summary
	for i := range n {
		x := 0.0
		if i < k {
			x = 1
		}
		s.Add(x, 0, 0)
	}
	return s
}

// An error rate's relative change cannot fall below −100%: where the delta
// method's interval would, the log-ratio interval is used.
func TestRelativeIntervalRespectsRange(t *testing.T) {
	for _, alt := range []Alternative{TwoSided, Greater, Less} {
		c := analyzeTwo(t, fixedSettings(0.05, alt), Proportion, proportion(3, 100), proportion(5, 100))
		r := c.Relative
		if r == nil || r.Method != "log-ratio" {
			t.Fatalf("%s: relative %+v, want the log-ratio method", alt, r)
		}
		for _, iv := range []Interval{r.Interval, r.Sequential} {
			if iv.LowerUnbounded || iv.Lower < -1 || !iv.Contains(r.Estimate) {
				t.Errorf("%s: interval %v around %v leaves the range", alt, iv, r.Estimate)
			}
		}
	}
	// Far from the edge the delta method stays.
	c := analyzeTwo(t, fixedSettings(0.05, TwoSided), Proportion, proportion(300, 1000), proportion(330, 1000))
	if c.Relative.Method != "delta" {
		t.Errorf("method = %q, want delta", c.Relative.Method)
	}
}
